// The C library's own allocator, for tests of the runtime's block shadow on real glibc
// blocks. The functions are taken from libc.so.6 itself, whatever else in the test binary
// (a sanitizer, an allocator linked in) replaces malloc there.
#pragma once

#include <dlfcn.h>

#include <cstddef>
#include <cstdlib>

namespace measure::test {

struct LibcAllocator {
  void* (*malloc)(std::size_t);
  void (*free)(void*);
  std::size_t (*usable)(void*);
};

/// glibc's malloc, free and malloc_usable_size, glibc's allocator initialized. Aborts the test
/// program if libc.so.6 does not provide them (every test here runs on glibc). Call it first
/// on the main thread: the thread that initializes glibc's allocator is given the main arena.
inline const LibcAllocator& libc_allocator() {
  static const LibcAllocator functions = [] {
    void* handle = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    LibcAllocator f{};
    if (handle != nullptr) {
      f.malloc = reinterpret_cast<void* (*)(std::size_t)>(dlsym(handle, "malloc"));
      f.free = reinterpret_cast<void (*)(void*)>(dlsym(handle, "free"));
      f.usable = reinterpret_cast<std::size_t (*)(void*)>(dlsym(handle, "malloc_usable_size"));
    }
    if (f.malloc == nullptr || f.free == nullptr || f.usable == nullptr) {
      std::abort();
    }
    // glibc's malloc initializes itself on its first call, and that is not thread-safe: it
    // gives the calling thread the main arena without counting it. Where glibc's malloc is not
    // the process's, its first call may come from several test threads at once, and two
    // threads then leave the main arena at exit, which glibc aborts on
    // ("a->attached_threads > 0"). One call here, under the static's guard, makes the
    // initialization happen once.
    f.free(f.malloc(1));
    return f;
  }();
  return functions;
}

/// glibc's malloc_usable_size, as a plain function (what BlockShadow::enable takes).
inline std::size_t libc_usable_size(void* p) {
  return libc_allocator().usable(p);
}

}  // namespace measure::test
