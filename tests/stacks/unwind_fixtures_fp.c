/* The unwinder's call shapes built with frame pointers (-O2 -fno-omit-frame-pointer). */
#define FIXTURES unwind_fixtures_fp
#define CLOBBER_RBP()
#include "stacks/unwind_fixtures.inc"
