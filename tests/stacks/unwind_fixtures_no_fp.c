/* The unwinder's call shapes built without frame pointers (-O2 -fomit-frame-pointer): rbp is
 * an ordinary register there, and the leaf sets it to 0 before it calls the probe. */
#define FIXTURES unwind_fixtures_no_fp
#define CLOBBER_RBP() __asm__ volatile("xor %%ebp, %%ebp" ::: "rbp")
#include "stacks/unwind_fixtures.inc"
