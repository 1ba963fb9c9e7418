/* Uses every descriptor it may have: keeps three 100-byte blocks live, lowers its descriptor
 * limit to 64 (to be quick), opens /dev/null until open fails, and exits with them all open.
 * Prints how many it opened and why it stopped: under measure, exactly as natively. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>

#include <sys/resource.h>

void* volatile kept[3];

int main(void) {
  struct rlimit limit;
  getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = 64;
  setrlimit(RLIMIT_NOFILE, &limit);
  for (int i = 0; i < 3; ++i) {
    kept[i] = malloc(100); /* @descriptors_kept */
  }
  int opened = 0;
  while (open("/dev/null", O_RDONLY) >= 0) {
    ++opened;
  }
  printf("opened %d descriptors, then: %s\n", opened, errno == EMFILE ? "too many open files" : "another error");
  return 0;
}
