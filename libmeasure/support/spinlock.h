// A one-byte test-and-test-and-set lock for the runtime's short critical sections (table
// inserts). It never calls into the C library while spinning, so it cannot deadlock with
// the allocator or the loader; after a burst of spins it yields the CPU.
#pragma once

#include <atomic>
#include <cstdint>

#include "platform/platform.h"

namespace measure::detail {

class SpinLock {
 public:
  void lock() noexcept {
    for (;;) {
      if (!m_locked.exchange(true, std::memory_order_acquire)) {
        return;
      }
      for (unsigned spins = 0; m_locked.load(std::memory_order_relaxed); ++spins) {
        if (spins < 128) {
          __builtin_ia32_pause();
        } else {
          platform::yield_cpu();
        }
      }
    }
  }
  void unlock() noexcept { m_locked.store(false, std::memory_order_release); }
  /// For a forked child only: the thread that held the lock does not exist there.
  void reset_after_fork() noexcept { m_locked.store(false, std::memory_order_relaxed); }

 private:
  std::atomic<bool> m_locked{false};
};

class SpinGuard {
 public:
  explicit SpinGuard(SpinLock& lock) noexcept : m_lock(lock) { m_lock.lock(); }
  ~SpinGuard() { m_lock.unlock(); }
  SpinGuard(const SpinGuard&) = delete;
  SpinGuard& operator=(const SpinGuard&) = delete;

 private:
  SpinLock& m_lock;
};

}  // namespace measure::detail
