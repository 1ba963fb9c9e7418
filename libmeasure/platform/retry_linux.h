// EINTR retried in one place, for the Linux implementation files of platform.h.
#pragma once

#include <errno.h>

namespace measure::detail::platform {

/// Calls `f` until it succeeds or fails with another error than EINTR; returns its result.
template <class F>
auto retry(F f) noexcept {
  for (;;) {
    auto result = f();
    if (result >= 0 || errno != EINTR) {
      return result;
    }
  }
}

}  // namespace measure::detail::platform
