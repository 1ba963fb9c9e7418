// Linux implementation of platform.h's files: creating, writing, naming and opening files, and
// the helper process that writes when every descriptor is in use.
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "platform/descriptors_linux.h"
#include "platform/platform.h"
#include "platform/retry_linux.h"

namespace measure::detail::platform {

int move_to_top(int fd) noexcept {
  rlimit limit{};
  if (fd < 0 || ::getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return fd;
  }
  constexpr rlim_t reserved = 32;
  rlim_t count = limit.rlim_cur == RLIM_INFINITY ? rlim_t{1} << 20 : limit.rlim_cur;
  if (count <= 2 * reserved) {
    return fd;  // a tiny limit: no top to speak of
  }
  int high = ::fcntl(fd, F_DUPFD_CLOEXEC, static_cast<int>(count - reserved));
  if (high < 0) {
    return fd;
  }
  ::close(fd);
  return high;
}

int open_at_top(const char* path, int flags, mode_t mode) noexcept {
  int fd = retry([&] { return ::open(path, flags | O_CLOEXEC, mode); });
  return fd >= 0 ? move_to_top(fd) : -errno;
}

int create_new_file(const char* path, unsigned mode) noexcept {
  // O_EXCL also refuses a symbolic link, dangling or not; O_NOFOLLOW says so twice. The file
  // takes a low number only between the open and the move to the top.
  return open_at_top(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, static_cast<mode_t>(mode));
}

std::size_t random_name(char* out) noexcept {
  std::uint64_t bits = random_u64();
  for (int i = 15; i >= 0; --i) {
    out[i] = "0123456789abcdef"[bits & 15U];
    bits >>= 4;
  }
  out[16] = '\0';
  return 16;
}

int change_mode(int fd, unsigned mode) noexcept {
  return ::fchmod(fd, static_cast<mode_t>(mode)) == 0 ? 0 : -errno;
}

int write_all(int fd, const void* data, std::size_t size) noexcept {
  auto* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = retry([&] { return ::write(fd, p, size); });
    if (n < 0) {
      return -errno;
    }
    if (n == 0) {
      return -EIO;
    }
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return 0;
}

int write_all_at(int fd, std::uint64_t offset, const void* data, std::size_t size) noexcept {
  auto* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = retry([&] { return ::pwrite(fd, p, size, static_cast<off_t>(offset)); });
    if (n < 0) {
      return -errno;
    }
    if (n == 0) {
      return -EIO;
    }
    p += n;
    offset += static_cast<std::uint64_t>(n);
    size -= static_cast<std::size_t>(n);
  }
  return 0;
}

int close_file(int fd) noexcept {
  return ::close(fd) == 0 || errno == EINTR ? 0 : -errno;
}

int rename_file(const char* from, const char* to) noexcept {
  return retry([&] { return ::rename(from, to); }) == 0 ? 0 : -errno;
}

int remove_file(const char* path) noexcept {
  return ::unlink(path) == 0 ? 0 : -errno;
}

int link_file(const char* from, const char* to) noexcept {
  return retry([&] { return ::link(from, to); }) == 0 ? 0 : -errno;
}

int create_marker(const char* path) noexcept {
  return ::mknod(path, S_IFREG | 0600, 0) == 0 ? 0 : -errno;
}

bool path_exists(const char* path) noexcept {
  return ::access(path, F_OK) == 0;
}

namespace {

FileType type_of(mode_t mode) noexcept {
  switch (mode & S_IFMT) {
    case S_IFREG:
      return FileType::regular;
    case S_IFDIR:
      return FileType::directory;
    case S_IFIFO:
      return FileType::fifo;
    case S_IFSOCK:
      return FileType::socket;
    case S_IFCHR:
      return FileType::character_device;
    case S_IFBLK:
      return FileType::block_device;
    default:
      return FileType::other;
  }
}

}  // namespace

int open_regular_file(const char* path, FileType* type, FileId* id) noexcept {
  struct stat st {};
  if (::stat(path, &st) != 0) {
    *type = FileType::missing;
    return -errno;
  }
  *type = type_of(st.st_mode);
  if (*type != FileType::regular) {
    return -EINVAL;  // never opened: opening a FIFO waits for a writer, a device may act
  }
  int fd = retry([&] { return ::open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC); });
  if (fd < 0) {
    return -errno;
  }
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    *type = type_of(st.st_mode);  // replaced between the two looks
    ::close(fd);
    return -EINVAL;
  }
  *id = FileId{static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino)};
  return fd;
}

namespace {

struct Helper {
  int (*fn)(void*);
  void* arg;
  int result;
};

int helper_main(void* data) noexcept {
  auto* helper = static_cast<Helper*>(data);
  // The table is a copy: closing one of its descriptors frees a slot here only; the file it
  // refers to stays open in the program, which keeps its own reference.
  for (int fd = 0; fd < 65536; ++fd) {
    if (::close(fd) == 0) {
      break;
    }
  }
  helper->result = helper->fn(helper->arg);
  return 0;
}

}  // namespace

int run_with_spare_descriptor(int (*fn)(void*), void* arg) noexcept {
  constexpr std::size_t stack_bytes = 256 * 1024;
  void* stack = map_pages(stack_bytes);
  if (stack == nullptr) {
    return -ENOMEM;
  }
  Helper helper{fn, arg, -EIO};
  int saved_errno = errno;  // the helper runs with this thread's thread-local storage
  sigset_t all;
  sigset_t previous;
  ::sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &previous);  // no handler of the program runs in the helper
  // Shared memory (CLONE_VM), a copy of the descriptor table (no CLONE_FILES); this thread
  // waits until the helper ends (CLONE_VFORK). Exit signal 0: no SIGCHLD reaches the program,
  // and only a wait with __WCLONE sees the helper.
  int pid = ::clone(&helper_main, static_cast<char*>(stack) + stack_bytes, CLONE_VM | CLONE_VFORK, &helper);
  int error = pid < 0 ? errno : 0;
  if (pid > 0) {
    int status = 0;
    retry([&] { return ::waitpid(pid, &status, __WCLONE); });
  }
  ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  unmap_pages(stack, stack_bytes);
  errno = saved_errno;
  return pid < 0 ? -error : helper.result;
}

bool take_dump_request(const char* directory, int pid, char* path, std::size_t size) noexcept {
  char request[4096 + 32];
  int n = ::snprintf(request, sizeof request, "%s/dump-%d", directory, pid);
  if (n < 0 || static_cast<std::size_t>(n) >= sizeof request || size == 0) {
    return false;
  }
  // Nothing there, the common case of every check, is one failed stat: a failed open would
  // hold a descriptor number while it looks the path up, and a program opening files on
  // another thread meanwhile would get the next number instead of the one it gets natively.
  struct stat st {};
  if (::fstatat(AT_FDCWD, request, &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return false;
  }
  int fd = open_at_top(request, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) {
    ::unlink(request);
    return false;
  }
  ssize_t got = -1;
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == ::geteuid()) {
    got = retry([&] { return ::read(fd, path, size - 1); });
  }
  ::close(fd);
  ::unlink(request);
  if (got <= 0 || static_cast<std::size_t>(got) == size - 1 || path[0] != '/') {
    return false;  // empty, perhaps cut short, or relative
  }
  std::size_t length = static_cast<std::size_t>(got);
  while (length > 0 && (path[length - 1] == '\n' || path[length - 1] == '\0')) {
    --length;
  }
  path[length] = '\0';
  return length > 1 && ::memchr(path, '\0', length) == nullptr;
}

}  // namespace measure::detail::platform
