// Loaded, called and unloaded over and over by tests/hostile/libraries.c.
#include <stdlib.h>

__attribute__((visibility("default"))) void* churn_allocate(int i) {
  return malloc(100 + (size_t)(i % 7));  // @churn_malloc
}
