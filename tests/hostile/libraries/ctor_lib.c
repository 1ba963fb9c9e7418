// A library whose constructor allocates and loads another library (churn_lib) and allocates
// through it, before dlopen of this one has returned (tests/hostile/libraries.c).
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

__attribute__((visibility("default"))) void* g_ctor_blocks[2];

__attribute__((constructor)) static void on_load(void) {
  g_ctor_blocks[0] = malloc(444);  // @ctor_malloc
  const char* path = getenv("CHURN_LIB");
  void* churn = path != NULL ? dlopen(path, RTLD_NOW | RTLD_LOCAL) : NULL;
  void* (*allocate)(int) = churn != NULL ? (void* (*)(int))dlsym(churn, "churn_allocate") : NULL;
  if (allocate == NULL) {
    fprintf(stderr, "ctor_lib: cannot load %s\n", path != NULL ? path : "(CHURN_LIB unset)");
    exit(3);
  }
  g_ctor_blocks[1] = allocate(0);
}
