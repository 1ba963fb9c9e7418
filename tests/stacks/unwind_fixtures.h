/* Call shapes for the unwinder's tests (unwind_test.cpp), in C, built twice from one source
 * (unwind_fixtures.inc): once with frame pointers (unwind_fixtures_fp.c) and once without
 * (unwind_fixtures_no_fp.c), both at -O2. Every entry stores its own return address (the
 * test's frame) in *entry and calls `probe` from inside its shape, where the test walks the
 * stack and asks glibc's backtrace() for it too. */
#ifndef MEASURE_TESTS_STACKS_UNWIND_FIXTURES_H
#define MEASURE_TESTS_STACKS_UNWIND_FIXTURES_H

#ifdef __cplusplus
extern "C" {
#endif

typedef void (*unwind_probe)(void);

struct unwind_fixtures {
  /* entry -> middle -> leaf -> probe. Built without frame pointers, the leaf saves rbp and
   * sets it to 0 before it calls the probe: only the unwind tables lead past it. */
  void (*chain)(unwind_probe probe, void** entry);
  /* entry -> recurse(depth) -> recurse(depth - 1) ... -> recurse(0) -> probe. */
  void (*recursion)(int depth, unwind_probe probe, void** entry);
  /* entry, with two always-inlined functions inside it, -> probe: one physical frame. */
  void (*inlined)(unwind_probe probe, void** entry);
  /* entry -> a DRAP frame (a 64-byte aligned local and a variable-length array of n bytes:
   * GCC realigns the stack through a register) -> leaf -> probe. */
  void (*drap)(int n, unwind_probe probe, void** entry);
  /* entry -> raise(SIGUSR1) -> the kernel's signal frame -> a handler -> probe. */
  void (*signal)(unwind_probe probe, void** entry);
};

extern const struct unwind_fixtures unwind_fixtures_fp;
extern const struct unwind_fixtures unwind_fixtures_no_fp;

#ifdef __cplusplus
}
#endif

#endif
