// Libraries that come and go: `libraries DIR COUNT` loads DIR/libchurn_lib.so COUNT times,
// allocating through it and unloading it each time, and between two loads opens
// DIR/libdeep_lib.so with RTLD_DEEPBIND (often at the address churn_lib just left; bound
// immediately and lazily in turn, so both ways the loader binds it are exercised). Half of
// the blocks are freed after every library is gone, the rest stay live to the end. Then it
// opens DIR/libctor_lib.so, whose constructor allocates and loads churn_lib itself.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

static void* must_open(const char* dir, const char* name, int flags) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  void* handle = dlopen(path, flags);
  if (handle == NULL) {
    fprintf(stderr, "libraries: %s\n", dlerror());
    exit(2);
  }
  return handle;
}

int main(int argc, char** argv) {
  if (argc != 3 || atoi(argv[2]) <= 0) {
    fprintf(stderr, "usage: libraries DIR COUNT\n");
    return 2;
  }
  const char* dir = argv[1];
  int count = atoi(argv[2]);
  void** blocks = calloc((size_t)count * 2, sizeof *blocks);  // @blocks
  for (int i = 0; i < count; ++i) {
    void* churn = must_open(dir, "libchurn_lib.so", RTLD_NOW | RTLD_LOCAL);
    void* (*allocate)(int) = (void* (*)(int))dlsym(churn, "churn_allocate");
    blocks[2 * i] = allocate(i);
    dlclose(churn);
    void* deep = must_open(dir, "libdeep_lib.so", (i % 2 == 0 ? RTLD_NOW : RTLD_LAZY) | RTLD_LOCAL | RTLD_DEEPBIND);
    void* (*deep_allocate)(void) = (void* (*)(void))dlsym(deep, "deep_allocate");
    blocks[2 * i + 1] = deep_allocate();
    dlclose(deep);
  }
  for (int i = 0; i < 2 * count; i += 2) {  // half of each kind
    free(blocks[i + (i / 2) % 2]);
    blocks[i + (i / 2) % 2] = NULL;
  }
  char churn_path[4096];
  snprintf(churn_path, sizeof churn_path, "%s/libchurn_lib.so", dir);
  setenv("CHURN_LIB", churn_path, 1);
  void* ctor = must_open(dir, "libctor_lib.so", RTLD_NOW | RTLD_GLOBAL);
  void** ctor_blocks = (void**)dlsym(ctor, "g_ctor_blocks");
  printf("%d loads of each library; constructor blocks %s\n", count,
         ctor_blocks[0] != NULL && ctor_blocks[1] != NULL ? "allocated" : "missing");
  return 0;
}
