// The tools' error family. The cold side (reading captures, symbolizing, reporting, the
// command line) throws these; tools/main.cpp turns them into one line on stderr and an exit
// status in one place. The runtime never throws (it degrades and counts instead).
#pragma once

#include <stdexcept>
#include <string>

namespace measure {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
  /// The process exit status this error maps to.
  virtual int exit_status() const noexcept { return 2; }
};

/// Bad command-line arguments or option values.
class UsageError : public Error {
 public:
  using Error::Error;
};

/// A file could not be read or written; the message names the file and the reason.
class IoError : public Error {
 public:
  using Error::Error;
};

/// A file is not a capture, or is truncated, corrupt, or from a newer format version.
class FormatError : public Error {
 public:
  using Error::Error;
};

}  // namespace measure
