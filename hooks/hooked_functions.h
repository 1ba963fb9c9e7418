// The one list of intercepted functions. Everything that must know the set (the table of
// originals, their resolution, the tests' entry-point coverage) expands these X-macros.
//
// MEASURE_HOOKED_C_FUNCTIONS(X): X(name, return type, parameter types, required)
//   A required function that cannot be resolved stops the program at start with its name:
//   without it the program could not allocate at all.
// MEASURE_HOOKED_CXX_FUNCTIONS(X): X(field, mangled name, return type, parameter types)
//   The replaceable global operator new/delete overloads (C++17: sized, aligned, nothrow,
//   array and their combinations). Resolved lazily; absent in programs without a C++ runtime.
#pragma once

#include <cstddef>
#include <new>

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
  X(dlclose, int, (void*), false)

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
