/* A program that runs for a while (the seconds given, 3 by default), allocating as it goes,
 * and says when it starts and ends on both of its outputs: the progress test checks that
 * measure's live figures never mix into them. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char** argv) {
  double seconds = argc > 1 ? atof(argv[1]) : 3.0;
  fputs("slow_fixture: started\n", stdout);
  fputs("slow_fixture: started (stderr)\n", stderr);
  fflush(stdout);
  struct timespec start, now, pause = {0, 10 * 1000 * 1000};
  clock_gettime(CLOCK_MONOTONIC, &start);
  void* kept[64] = {0};
  for (unsigned i = 0;; ++i) {
    free(kept[i % 64]);
    kept[i % 64] = malloc(1000 + i % 100);
    nanosleep(&pause, NULL);
    clock_gettime(CLOCK_MONOTONIC, &now);
    if ((double)(now.tv_sec - start.tv_sec) + (double)(now.tv_nsec - start.tv_nsec) / 1e9 >= seconds) {
      break;
    }
  }
  for (int i = 0; i < 64; ++i) {
    free(kept[i]);
  }
  fputs("slow_fixture: done\n", stdout);
  fputs("slow_fixture: done (stderr)\n", stderr);
  return 0;
}
