// Opened with RTLD_DEEPBIND by tests/hostile/libraries.c: its own dependencies (libc) come
// before the program's scope in its lookups, so its malloc binds past a preloaded library's
// unless the tool sees to it.
#include <stdlib.h>

__attribute__((visibility("default"))) void* deep_allocate(void) {
  return malloc(333);  // @deep_malloc
}
