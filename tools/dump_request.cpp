#include "tools/dump_request.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <thread>

#include <fmt/format.h>

#include "tools/process.h"

namespace measure::tools {
namespace {

namespace fs = std::filesystem;

// The answer file's result, once there: 0 or an errno value.
std::optional<int> answer(const fs::path& directory, int pid) {
  std::error_code ec;
  std::string prefix = fmt::format("dump-{}.done-", pid);
  for (const auto& entry : fs::directory_iterator(directory, ec)) {
    std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) == 0) {
      fs::remove(entry.path(), ec);
      return std::atoi(name.c_str() + prefix.size());
    }
  }
  return std::nullopt;
}

}  // namespace

int parse_pid(const std::string& text) {
  bool digits = !text.empty() && text.size() <= 9 && text.find_first_not_of("0123456789") == std::string::npos;
  int pid = digits ? std::stoi(text) : 0;
  if (pid <= 0) {
    throw UsageError(fmt::format("'{}' is not a process id", text));
  }
  return pid;
}

std::string attached_directory(const std::vector<std::string>& files) {
  for (const std::string& file : files) {
    fs::path path(file);
    std::error_code ec;
    if (path.filename() == attach_library_name && fs::is_regular_file(path.parent_path() / "attach.pid", ec)) {
      return path.parent_path().string();
    }
  }
  return "";
}

std::string program_name(int pid) {
  std::vector<std::string> files = executable_files(pid);
  return files.empty() ? "process" : fs::path(files.front()).filename().string();
}

std::string traced_status_directory(int pid) {
  if (!process_running(pid)) {
    throw UsageError(fmt::format("no process {}", pid));
  }
  std::vector<std::string> files = executable_files(pid);
  if (files.empty()) {
    throw UsageError(fmt::format("cannot read process {}'s mappings (another user's process?)", pid));
  }
  if (std::string session = attached_directory(files); !session.empty()) {
    return session;
  }
  bool traced = std::any_of(files.begin(), files.end(),
                            [](const std::string& f) { return f.ends_with("/libmeasure_preload.so"); });
  std::string directory = started_environment_value(pid, "MEASURE_STATUS_DIR");
  if (!traced || directory.empty() || !fs::is_directory(directory)) {
    throw UsageError(fmt::format(
        "process {} is not one measure traces; start it with 'measure run -- PROGRAM', or 'measure attach {}'", pid,
        pid));
  }
  return directory;
}

void request_dump(int pid, const std::string& directory, const fs::path& output, std::chrono::milliseconds timeout) {
  // One request at a time: the runtime reads one request file, so a second requester (a dump
  // while `measure live` watches) would replace the first's request and leave it waiting.
  // `measure run` removes the directory once its program has ended.
  auto gone = [&] { return !process_running(pid) || !fs::is_directory(directory); };
  auto deadline = std::chrono::steady_clock::now() + timeout;
  FileLock turn((fs::path(directory) / fmt::format("dump-{}.lock", pid)).string(), deadline);
  if (!turn.locked()) {
    if (gone()) {
      throw ProcessGone(fmt::format("process {} ended", pid));
    }
    throw Error(fmt::format("process {}: another request did not finish within {} s", pid,
                            std::chrono::duration_cast<std::chrono::seconds>(timeout).count()));
  }
  (void)answer(directory, pid);  // a stale answer of an earlier request that gave up

  // The request: written under another name, then renamed, so the runtime reads it whole.
  fs::path request = fs::path(directory) / fmt::format("dump-{}", pid);
  fs::path partial = fs::path(directory) / fmt::format(".dump-{}.{}", pid, ::getpid());
  {
    std::ofstream out(partial, std::ios::binary | std::ios::trunc);
    out << output.string() << '\n';
    if (!out) {
      if (gone()) {
        throw ProcessGone(fmt::format("process {} ended", pid));
      }
      throw IoError(fmt::format("{}: cannot write the request: {}", partial.string(), std::strerror(errno)));
    }
  }
  std::error_code ec;
  fs::rename(partial, request, ec);
  if (ec) {
    fs::remove(partial, ec);
    if (gone()) {
      throw ProcessGone(fmt::format("process {} ended", pid));
    }
    throw IoError(fmt::format("{}: cannot write the request: {}", request.string(), ec.message()));
  }

  std::optional<int> status;
  while (!(status = answer(directory, pid))) {
    if (!process_running(pid)) {
      fs::remove(request, ec);
      throw ProcessGone(fmt::format("process {} ended before it wrote the capture", pid));
    }
    if (std::chrono::steady_clock::now() > deadline) {
      fs::remove(request, ec);
      throw Error(fmt::format("process {} did not answer within {} s", pid,
                              std::chrono::duration_cast<std::chrono::seconds>(timeout).count()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (*status != 0) {
    throw IoError(fmt::format("{}: process {} could not write it: {}", output.string(), pid, std::strerror(*status)));
  }
}

}  // namespace measure::tools
