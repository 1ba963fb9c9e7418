/* Lays the trap a predictable temporary file name falls into: a symbolic link named
 * BASE.tmp.PID (its own pid: the runtime's temporary name for the capture BASE once was) to
 * VICTIM, then allocates and returns. A writer that follows the link overwrites VICTIM.
 *   prepared_link VICTIM BASE */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

void* volatile sink;

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: prepared_link VICTIM BASE\n");
    return 2;
  }
  char link[8192];
  snprintf(link, sizeof link, "%s.tmp.%d", argv[2], (int)getpid());
  if (symlink(argv[1], link) != 0) {
    perror("symlink");
    return 1;
  }
  sink = malloc(100);
  free(sink);
  return 0;
}
