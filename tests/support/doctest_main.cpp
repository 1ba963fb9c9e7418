// The one doctest main of the suite: doctest's own, with the exit status of a program whose
// cases were all skipped (support/skip.h).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "support/skip.h"

int main(int argc, char** argv) {
  doctest::Context context(argc, argv);
  int status = context.run();
  if (context.shouldExit()) {
    return status;  // --help, --list-test-cases and other queries
  }
  return measure::test::exit_status(status);
}
