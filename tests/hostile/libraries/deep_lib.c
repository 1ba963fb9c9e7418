// Opened with RTLD_DEEPBIND by tests/hostile/libraries.c: its own dependencies (libc) come
// before the program's scope in its lookups, so its malloc binds past a preloaded library's
// unless the tool sees to it. Its constructor allocates while the library is being opened
// and its destructor frees that block when the library is closed.
#include <stdlib.h>

static void* g_loaded_block;

__attribute__((constructor)) static void on_open(void) {
  g_loaded_block = malloc(77);  // @deep_ctor_malloc
}

__attribute__((destructor)) static void on_close(void) {
  free(g_loaded_block);
}

__attribute__((visibility("default"))) void* deep_allocate(void) {
  return malloc(333);  // @deep_malloc
}
