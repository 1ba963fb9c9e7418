/* Fixture: a server that allocates steadily. Writes its pid to PIDFILE, then every 2 ms keeps
 * a new 1,000-byte block (@steady_block) and frees a 24-byte temporary, until STOPFILE exists
 * (or 20 s have passed); prints how many blocks it kept, and exits 0.
 * Usage: steady_server PIDFILE STOPFILE */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc != 3) {
    return 2;
  }
  FILE* pidfile = fopen(argv[1], "w");
  if (pidfile == NULL) {
    return 2;
  }
  fprintf(pidfile, "%d\n", (int)getpid());
  fclose(pidfile);
  static void* kept[10000];
  int count = 0;
  struct timespec pause = {0, 2000000};
  while (count < 10000 && access(argv[2], F_OK) != 0) {
    kept[count++] = malloc(1000); /* @steady_block */
    void* volatile temporary = malloc(24);
    free(temporary);
    nanosleep(&pause, NULL);
  }
  printf("kept %d blocks\n", count);
  for (int i = 0; i < count; ++i) {
    free(kept[i]);
  }
  return 0;
}
