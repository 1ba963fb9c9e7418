// The one list of intercepted functions. Everything that must know the set (the table of
// originals, their resolution, the tests' entry-point coverage) expands these X-macros.
//
// MEASURE_HOOKED_C_FUNCTIONS(X): X(name, return type, parameter types, required)
//   A required function that cannot be resolved stops the program at start with its name:
//   without it the program could not allocate at all.
// MEASURE_HOOKED_CXX_FUNCTIONS(X): X(field, mangled name, return type, parameter types)
//   The replaceable global operator new/delete overloads (C++17: sized, aligned, nothrow,
//   array and their combinations). Resolved lazily; absent in programs without a C++ runtime.
// MEASURE_HOOKED_PROCESS_FUNCTIONS(X): X(name, return type, parameter types)
//   The functions that start processes (runtime/children.h): the runtime counts those it will
//   not trace, writes the capture before the process replaces itself, and gives exec'd
//   programs the environment that traces them when they are followed. The C library's own
//   exec functions and system() and popen() start programs through internal calls that no
//   hook sees, so each entry point is here. None is required.
#pragma once

#include <pthread.h>
#include <spawn.h>

#include <cstddef>
#include <cstdio>
#include <new>

#include <sys/types.h>

#define MEASURE_HOOKED_C_FUNCTIONS(X)                               \
  X(malloc, void*, (std::size_t), true)                             \
  X(free, void, (void*), true)                                      \
  X(calloc, void*, (std::size_t, std::size_t), true)                \
  X(realloc, void*, (void*, std::size_t), true)                     \
  X(reallocarray, void*, (void*, std::size_t, std::size_t), false)  \
  X(posix_memalign, int, (void**, std::size_t, std::size_t), false) \
  X(aligned_alloc, void*, (std::size_t, std::size_t), false)        \
  X(memalign, void*, (std::size_t, std::size_t), false)             \
  X(valloc, void*, (std::size_t), false)                            \
  X(pvalloc, void*, (std::size_t), false)                           \
  X(malloc_usable_size, std::size_t, (void*), false)                \
  X(_exit, void, (int), false)                                      \
  X(_Exit, void, (int), false)                                      \
  X(dlclose, int, (void*), false)                                   \
  X(pthread_create, int, (pthread_t*, const pthread_attr_t*, void* (*)(void*), void*), false)

#define MEASURE_HOOKED_CXX_FUNCTIONS(X)                                                                  \
  X(new_scalar, "_Znwm", void*, (std::size_t))                                                           \
  X(new_array, "_Znam", void*, (std::size_t))                                                            \
  X(new_scalar_nothrow, "_ZnwmRKSt9nothrow_t", void*, (std::size_t, const std::nothrow_t&))              \
  X(new_array_nothrow, "_ZnamRKSt9nothrow_t", void*, (std::size_t, const std::nothrow_t&))               \
  X(new_scalar_aligned, "_ZnwmSt11align_val_t", void*, (std::size_t, std::align_val_t))                  \
  X(new_array_aligned, "_ZnamSt11align_val_t", void*, (std::size_t, std::align_val_t))                   \
  X(new_scalar_aligned_nothrow, "_ZnwmSt11align_val_tRKSt9nothrow_t", void*,                             \
    (std::size_t, std::align_val_t, const std::nothrow_t&))                                              \
  X(new_array_aligned_nothrow, "_ZnamSt11align_val_tRKSt9nothrow_t", void*,                              \
    (std::size_t, std::align_val_t, const std::nothrow_t&))                                              \
  X(delete_scalar, "_ZdlPv", void, (void*))                                                              \
  X(delete_array, "_ZdaPv", void, (void*))                                                               \
  X(delete_scalar_sized, "_ZdlPvm", void, (void*, std::size_t))                                          \
  X(delete_array_sized, "_ZdaPvm", void, (void*, std::size_t))                                           \
  X(delete_scalar_nothrow, "_ZdlPvRKSt9nothrow_t", void, (void*, const std::nothrow_t&))                 \
  X(delete_array_nothrow, "_ZdaPvRKSt9nothrow_t", void, (void*, const std::nothrow_t&))                  \
  X(delete_scalar_aligned, "_ZdlPvSt11align_val_t", void, (void*, std::align_val_t))                     \
  X(delete_array_aligned, "_ZdaPvSt11align_val_t", void, (void*, std::align_val_t))                      \
  X(delete_scalar_sized_aligned, "_ZdlPvmSt11align_val_t", void, (void*, std::size_t, std::align_val_t)) \
  X(delete_array_sized_aligned, "_ZdaPvmSt11align_val_t", void, (void*, std::size_t, std::align_val_t))  \
  X(delete_scalar_aligned_nothrow, "_ZdlPvSt11align_val_tRKSt9nothrow_t", void,                          \
    (void*, std::align_val_t, const std::nothrow_t&))                                                    \
  X(delete_array_aligned_nothrow, "_ZdaPvSt11align_val_tRKSt9nothrow_t", void,                           \
    (void*, std::align_val_t, const std::nothrow_t&))

#define MEASURE_HOOKED_PROCESS_FUNCTIONS(X)                                                                         \
  X(fork, pid_t, ())                                                                                                \
  X(execve, int, (const char*, char* const*, char* const*))                                                         \
  X(execv, int, (const char*, char* const*))                                                                        \
  X(execvp, int, (const char*, char* const*))                                                                       \
  X(execvpe, int, (const char*, char* const*, char* const*))                                                        \
  X(execl, int, (const char*, const char*, ...))                                                                    \
  X(execle, int, (const char*, const char*, ...))                                                                   \
  X(execlp, int, (const char*, const char*, ...))                                                                   \
  X(fexecve, int, (int, char* const*, char* const*))                                                                \
  X(posix_spawn, int,                                                                                               \
    (pid_t*, const char*, const posix_spawn_file_actions_t*, const posix_spawnattr_t*, char* const*, char* const*)) \
  X(posix_spawnp, int,                                                                                              \
    (pid_t*, const char*, const posix_spawn_file_actions_t*, const posix_spawnattr_t*, char* const*, char* const*)) \
  X(system, int, (const char*))                                                                                     \
  X(popen, FILE*, (const char*, const char*))
