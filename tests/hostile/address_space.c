// How much a program can allocate under an address-space limit (ulimit -v, RLIMIT_AS): 1 MiB
// blocks until malloc fails, all kept. Prints how many it got, and exits normally.
// Usage: address_space [--size]; --size only prints the address space the process has mapped
// at its start, in KiB.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc == 2 && strcmp(argv[1], "--size") == 0) {
    unsigned long pages = 0;
    FILE* statm = fopen("/proc/self/statm", "r");
    if (statm == NULL || fscanf(statm, "%lu", &pages) != 1) {
      return 1;
    }
    printf("%lu\n", pages * (unsigned long)sysconf(_SC_PAGESIZE) / 1024);
    return 0;
  }
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
