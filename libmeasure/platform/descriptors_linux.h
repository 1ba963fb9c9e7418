// Where the toolkit's own descriptors live, for the Linux implementation files of platform.h:
// at the top of the process's range (RLIMIT_NOFILE), away from the lowest free numbers the
// program's own open() calls return.
#pragma once

#include <sys/types.h>

namespace measure::detail::platform {

/// Moves `fd` to a close-on-exec descriptor among the top 32 of the range and closes `fd`;
/// returns the new number, or `fd` itself when there is no room up there (or `fd` < 0).
int move_to_top(int fd) noexcept;
/// open() with O_CLOEXEC, EINTR retried, then move_to_top. Returns a descriptor or -errno.
int open_at_top(const char* path, int flags, mode_t mode = 0) noexcept;

}  // namespace measure::detail::platform
