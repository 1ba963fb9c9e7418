// A program that takes the addresses of malloc and free, built without PIE as Debian's
// python3 is. Its executable then holds canonical PLT entries for both: a lookup of "malloc"
// by name answers with an address inside the executable, although every call still reaches
// the first library in the lookup scope that defines malloc (measure's, when preloaded).
// measure must count these allocations and must not take the program for one with its own
// allocator.
#include <stdio.h>
#include <stdlib.h>

void* (*volatile g_allocate)(size_t);
void (*volatile g_release)(void*);
void* volatile sink;

int main(void) {
  // Taken in code (not a data initializer): non-PIC code takes a function's address through
  // its canonical PLT entry.
  g_allocate = malloc;
  g_release = free;
  for (int i = 0; i < 10; ++i) {
    void* p = g_allocate(100);  // @through_pointer
    sink = p;
    g_release(p);
  }
  void* kept = malloc(700);  // @direct_call
  sink = kept;
  puts("allocated through pointers and directly");
  return 0;
}
