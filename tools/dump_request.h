// Asking a process `measure run` traces for its capture, now: the channel `measure dump` and
// `measure live` share. The request is a file in the run's status directory
// (MEASURE_STATUS_DIR, private to the user), which the runtime's background thread looks for
// ten times a second; it writes the capture where asked and answers with an empty file whose
// name holds the result. The program keeps running and recording; its allocation path never
// sees the request.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "support/error.h"

namespace measure::tools {

/// The process ended before it answered a request.
class ProcessGone : public Error {
 public:
  using Error::Error;
};

/// The process id in `text`. UsageError when it is not a positive number.
int parse_pid(const std::string& text);

/// The file name of the runtime's copy `measure attach` loads into a process.
inline constexpr const char* attach_library_name = "libmeasure_attach.so";

/// The session directory of the `measure attach` that records a process now, found among the
/// files the process has mapped (`executable_files`): the directory of its copy of the
/// runtime, while that holds the session's attach.pid; "" when no attach records it.
std::string attached_directory(const std::vector<std::string>& files);

/// The file name of the program process `pid` runs ("process" when its mappings cannot be
/// read), for default capture names.
std::string program_name(int pid);

/// The status directory of process `pid`, which `measure run` traces. UsageError when there
/// is no such process, its mappings cannot be read, or `measure run` does not trace it.
std::string traced_status_directory(int pid);

/// Asks process `pid` (its status directory `directory`) to write its capture to `output`, an
/// absolute path, and waits for the answer, at most `timeout` (a concurrent request of
/// another process, served first, included). Throws ProcessGone when the
/// process ends first, Error when it does not answer in time, IoError when it could not
/// write the capture. The capture carries no symbols yet (store_symbols adds them).
void request_dump(int pid, const std::string& directory, const std::filesystem::path& output,
                  std::chrono::milliseconds timeout);

}  // namespace measure::tools
