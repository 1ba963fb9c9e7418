// How much a program can allocate under an address-space limit (ulimit -v, RLIMIT_AS): 1 MiB
// blocks until malloc fails, all kept. Prints how many it got, and exits normally. Usage:
// address_space
#include <stdio.h>
#include <stdlib.h>

int main(void) {
  enum { block_bytes = 1 << 20 };
  void* volatile last = NULL;
  unsigned long blocks = 0;
  for (;;) {
    void* p = malloc(block_bytes);
    if (p == NULL) {
      break;
    }
    ((char*)p)[0] = 1;  // the block is the program's from now on
    last = p;
    ++blocks;
  }
  (void)last;
  printf("%lu blocks of 1 MiB\n", blocks);
  return 0;
}
