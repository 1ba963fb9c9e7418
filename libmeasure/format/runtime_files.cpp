// Writing a capture file: encode, write a temporary file nobody can have prepared, then give
// it its name. Everything here runs at exit or on the background thread, with the writer lock.
#include "format/runtime_files.h"

#include <cerrno>
#include <cstring>

#include "format/byte_buffer.h"
#include "format/runtime_encoder.h"
#include "platform/platform.h"
#include "runtime/runtime.h"
#include "support/log.h"

namespace measure::detail {
namespace {

// Basename of the executable, for %n.
void program_name(char* out, std::size_t size) noexcept {
  char exe[4096];
  const char* base = "program";
  if (platform::executable_path(exe, sizeof exe)) {
    const char* slash = std::strrchr(exe, '/');
    base = slash != nullptr ? slash + 1 : exe;
  }
  std::strncpy(out, base, size - 1);
  out[size - 1] = '\0';
}

// Captures hold the program's arguments and paths: readable by their owner only.
constexpr unsigned capture_mode = 0600;

// Tells `measure run` why this process's capture could not be written: an empty file named
// PID.ERRNO in the status directory it gave (Options::status_dir). Made without a descriptor
// and without data, so it works when the program used every descriptor or the disk is full.
void note_failure(Runtime& rt, int pid, int error) noexcept {
  if (rt.options.status_dir[0] == '\0') {
    return;
  }
  char note[sizeof rt.options.status_dir + 48];
  std::size_t n = std::strlen(rt.options.status_dir);
  std::memcpy(note, rt.options.status_dir, n);
  note[n++] = '/';
  n += format_decimal(static_cast<std::uint64_t>(pid), note + n);
  note[n++] = '.';
  n += format_decimal(static_cast<std::uint64_t>(error), note + n);
  note[n] = '\0';
  platform::create_marker(note);
}

// One warning per process: checkpoints retry every interval, and a full disk or a read-only
// directory must not flood the program's stderr.
int write_failed(Runtime& rt, const char* path, int pid, int error) noexcept {
  note_failure(rt, pid, error);
  if (!rt.write_warned) {
    rt.write_warned = true;
    // A path of thousands of bytes is shortened, so that the reason still fits the line.
    LogLine().text("cannot write the capture ").shortened(path).text(": ").text(std::strerror(error)).emit();
  }
  return error;
}

// Gives the finished temporary file its final name. A process's own capture claims a name no
// other process has used: link() fails when the name exists (pid reuse, or a template
// without %p), and then ".1", ".2" ... are tried. Later writes replace it with rename().
int publish(Runtime& rt, const char* temporary, const char* path, bool claim) noexcept {
  if (!claim) {
    return platform::rename_file(temporary, path);
  }
  char candidate[4096 + 32];
  std::size_t n = std::strlen(path);
  for (std::uint64_t sequence = 0; sequence < 1000; ++sequence) {
    std::memcpy(candidate, path, n + 1);
    if (sequence != 0) {
      candidate[n] = '.';
      candidate[n + 1 + format_decimal(sequence, candidate + n + 1)] = '\0';
    }
    int rc = platform::link_file(temporary, candidate);
    // ENOTSUP and EOPNOTSUPP are one value on Linux, not everywhere.
    if (rc == -EPERM || rc == -ENOTSUP || rc == -EOPNOTSUPP) {  // NOLINT(misc-redundant-expression)
      // No hard links here (some network and FUSE file systems): check, then rename.
      rc = platform::path_exists(candidate) ? -EEXIST : platform::rename_file(temporary, candidate);
      if (rc == 0) {
        std::memcpy(rt.chosen_path, candidate, std::strlen(candidate) + 1);
        rt.path_chosen = true;
        return 0;
      }
    }
    if (rc == 0) {
      platform::remove_file(temporary);
      std::memcpy(rt.chosen_path, candidate, std::strlen(candidate) + 1);
      rt.path_chosen = true;
      return 0;
    }
    if (rc != -EEXIST) {
      return rc;
    }
  }
  return -EEXIST;
}

// Writes into `out` the name of a temporary file next to `path`: random, and created new, as
// a name a user could predict (PATH.tmp.PID) would let them prepare a symbolic link there and
// have a program run by root write through it.
void temporary_name(const char* path, char* out) noexcept {
  std::size_t n = std::strlen(path);
  std::memcpy(out, path, n + 1);
  std::memcpy(out + n, ".tmp.", 5);  // NOLINT(bugprone-not-null-terminated-result): random_name ends it
  platform::random_name(out + n + 5);
}

constexpr std::size_t max_path = 4096;
constexpr std::size_t max_temporary = max_path + 32;

// Captures are handed to their file in pieces of about this size as they are encoded: writing
// one takes that much memory however many stacks it holds (it took the whole file's size).
constexpr std::size_t stream_threshold = std::size_t{4} << 20;

// The temporary file a capture is written to, created when the first bytes arrive (a streamed
// capture's encoder reads the process's /proc files before that, with a descriptor this file
// may need), and removed unless it was published.
class TemporaryFile final : public format::ByteSink {
 public:
  explicit TemporaryFile(const char* path) noexcept { temporary_name(path, m_name); }
  ~TemporaryFile() {
    if (m_fd >= 0) {
      platform::close_file(m_fd);
    }
    if (m_created && !m_kept) {
      platform::remove_file(m_name);
    }
  }
  TemporaryFile(const TemporaryFile&) = delete;
  TemporaryFile& operator=(const TemporaryFile&) = delete;

  bool append(const unsigned char* data, std::size_t size) noexcept override {
    if (m_fd < 0 && !create()) {
      return false;
    }
    if (size > m_limit || m_written > m_limit - size) {
      return fail(EFBIG);  // writing past RLIMIT_FSIZE would kill the program
    }
    int rc = platform::write_all(m_fd, data, size);
    m_written += size;
    return rc == 0 || fail(-rc);
  }
  bool overwrite(std::uint64_t offset, const unsigned char* data, std::size_t size) noexcept override {
    int rc = m_fd < 0 ? -EBADF : platform::write_all_at(m_fd, offset, data, size);
    return rc == 0 || fail(-rc);
  }
  /// Closes the file and gives it the capture's name `path` (see publish): 0 or an errno
  /// value. pre: everything was appended.
  int publish_as(Runtime& rt, const char* path, bool claim) noexcept {
    int rc = -platform::close_file(m_fd);
    m_fd = -1;
    if (rc == 0) {
      rc = -publish(rt, m_name, path, claim);
    }
    m_kept = rc == 0;
    return rc;
  }
  /// Why append or overwrite failed: an errno value.
  int error() const noexcept { return m_error; }

 private:
  bool create() noexcept {
    int fd = platform::create_new_file(m_name, capture_mode);
    if (fd < 0) {
      return fail(-fd);
    }
    m_fd = fd;
    m_created = true;
    return true;
  }
  bool fail(int error) noexcept {
    if (m_error == 0) {
      m_error = error;
    }
    return false;
  }

  char m_name[max_temporary];
  int m_fd = -1;
  int m_error = 0;
  bool m_created = false;
  bool m_kept = false;
  std::uint64_t m_written = 0;
  std::uint64_t m_limit = platform::file_size_limit();
};

// One attempt to write a capture encoded in memory, made by a helper process with a spare
// descriptor (which must not encode again: what it reads of the process, /proc/self/statm,
// would take the one descriptor it freed).
struct Attempt {
  Runtime* rt;
  const unsigned char* data;
  std::size_t size;
  const char* path;
  bool claim;
};

// Writes and publishes; returns 0 or an errno value, and warns about nothing.
int write_once(Attempt& a) noexcept {
  TemporaryFile file(a.path);
  return file.append(a.data, a.size) ? file.publish_as(*a.rt, a.path, a.claim) : file.error();
}

int write_in_helper(void* attempt) noexcept {
  return write_once(*static_cast<Attempt*>(attempt));
}

}  // namespace

bool expand_output_path(const char* templ, char* out, std::size_t size) noexcept {
  return expand_output_path(templ, out, size, platform::process_id());
}

bool expand_output_path(const char* templ, char* out, std::size_t size, int process) noexcept {
  char name[256];
  program_name(name, sizeof name);
  char pid[24];
  pid[format_decimal(static_cast<std::uint64_t>(process), pid)] = '\0';
  std::size_t n = 0;
  auto put = [&](const char* s) {
    for (; *s != '\0'; ++s) {
      if (n + 1 >= size) {
        return false;
      }
      out[n++] = *s;
    }
    return true;
  };
  for (const char* p = templ; *p != '\0'; ++p) {
    bool ok = true;
    if (p[0] == '%' && p[1] == 'p') {
      ok = put(pid);
      ++p;
    } else if (p[0] == '%' && p[1] == 'n') {
      ok = put(name);
      ++p;
    } else if (p[0] == '%' && p[1] == '%') {
      ok = put("%");
      ++p;
    } else {
      char c[2] = {*p, '\0'};
      ok = put(c);
    }
    if (!ok) {
      return false;
    }
  }
  out[n] = '\0';
  return true;
}

int write_capture_file(Runtime& rt, bool final, const char* path_template) noexcept {
  SpinGuard guard(rt.writer_lock);
  if (!final && path_template == nullptr && rt.execs_starting.load(std::memory_order_acquire) != 0) {
    return 0;  // a thread calls exec: the capture it wrote just before is the final one
  }
  CaptureRequest request = CaptureRequest::now(final);
  char path[max_path];
  bool claim = false;
  if (path_template == nullptr && rt.path_chosen) {
    std::memcpy(path, rt.chosen_path, std::strlen(rt.chosen_path) + 1);
  } else {
    const char* templ = path_template != nullptr ? path_template : rt.output_path;
    if (!expand_output_path(templ, path, sizeof path, request.pid)) {
      return write_failed(rt, templ, request.pid, ENAMETOOLONG);
    }
    claim = path_template == nullptr;
  }
  int rc = 0;
  {
    TemporaryFile file(path);
    format::ByteBuffer out;
    out.stream_to(&file, stream_threshold);
    encode_capture_state(rt, out, request);
    if (out.flush()) {
      rc = file.publish_as(rt, path, claim);
    } else {
      rc = file.error() != 0 ? file.error() : ENOMEM;  // the sink's reason, else the buffer's
    }
  }
  if (rc == EMFILE) {
    // The program uses every descriptor it may have. A helper with a copy of the descriptor
    // table has room in its copy; the program's own table is left exactly as it is. It writes
    // an encoding held here in memory.
    format::ByteBuffer held;
    encode_capture_state(rt, held, request);
    Attempt attempt{&rt, held.data(), held.size(), path, claim};
    if (held.failed()) {
      rc = ENOMEM;
    } else {
      int helper = platform::run_with_spare_descriptor(&write_in_helper, &attempt);
      rc = helper < 0 ? EMFILE : helper;
    }
  }
  if (rc != 0) {
    return write_failed(rt, path, request.pid, rc);
  }
  return 0;
}

}  // namespace measure::detail
