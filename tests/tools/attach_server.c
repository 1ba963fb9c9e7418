/* Fixture: a server that allocates steadily, in rounds, for `measure attach`. Writes its pid to
 * PIDFILE, then runs ROUNDS rounds (default 4000), 2 ms apart. Round r keeps 1 + r % 3 blocks
 * of 1000 + r bytes (@round_block), allocates and frees a 24-byte temporary (@round_temporary),
 * and frees the blocks it kept 50 rounds before. So the sizes and counts of any run of
 * consecutive rounds are known exactly, and an attach that starts and ends between two
 * rounds records exactly such a run. Prints "rounds R blocks B" (B: the blocks it kept in
 * all) and exits 0. Built as C (malloc and free) and as C++ (new[] and delete[]).
 * With LIBRARY, the server loads it at round ROUNDS / 2 and from then on each round also
 * frees a block its churn_allocate(r) returns (100 + r % 7 bytes).
 * Usage: attach_server PIDFILE [ROUNDS [LIBRARY]] */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#ifdef __cplusplus
#define ALLOCATE(n) static_cast<void*>(new char[n])
#define RELEASE(p) delete[] static_cast<char*>(p)
#else
#define ALLOCATE(n) malloc(n)
#define RELEASE(p) free(p)
#endif

enum { history = 50, most_per_round = 3 };

int main(int argc, char** argv) {
  if (argc < 2 || argc > 4) {
    return 2;
  }
  int rounds = argc >= 3 ? atoi(argv[2]) : 4000;
  void* (*library_allocate)(int) = NULL;
  FILE* pidfile = fopen(argv[1], "w");
  if (pidfile == NULL) {
    return 2;
  }
  fprintf(pidfile, "%d\n", (int)getpid());
  fclose(pidfile);
  static void* kept[history][most_per_round];
  static int kept_count[history];
  long blocks = 0;
  struct timespec pause = {0, 2000000};
  for (int r = 1; r <= rounds; ++r) {
    int slot = r % history;
    for (int i = 0; i < kept_count[slot]; ++i) {
      RELEASE(kept[slot][i]);
    }
    kept_count[slot] = 1 + r % 3;
    for (int i = 0; i < kept_count[slot]; ++i) {
      kept[slot][i] = ALLOCATE(1000 + r); /* @round_block */
    }
    blocks += kept_count[slot];
    void* volatile temporary = ALLOCATE(24); /* @round_temporary */
    RELEASE(temporary);
    if (argc == 4 && r == rounds / 2) {
      void* library = dlopen(argv[3], RTLD_NOW);
      if (library == NULL) {
        return 3;
      }
      *(void**)&library_allocate = dlsym(library, "churn_allocate");
    }
    if (library_allocate != NULL) {
      free(library_allocate(r));
    }
    nanosleep(&pause, NULL);
  }
  for (int s = 0; s < history; ++s) {
    for (int i = 0; i < kept_count[s]; ++i) {
      RELEASE(kept[s][i]);
    }
  }
  printf("rounds %d blocks %ld\n", rounds, blocks);
  return 0;
}
