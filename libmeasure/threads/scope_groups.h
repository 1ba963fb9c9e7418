// Scopes that count the threads they start. A group is opened by one thread, which becomes
// its first member; a thread created (pthread_create) by a member while the group is open
// becomes a member too, before its start routine runs, and so do the threads it creates.
// Every member's events count in the group's one scope until the opener closes it. Members
// write the shared scope under the group's lock: a statement that starts threads pays a lock
// per event while it is measured, and nothing else does.
//
// A member keeps the group and the serial it joined with; the group's serial changes when
// it closes (and again if its slot is reused), so a member's late events after the close
// are dropped, checked under the lock.
#pragma once

#include <atomic>
#include <cstdint>

#include "support/spinlock.h"
#include "threads/scopes.h"

namespace measure::detail {

struct ScopeGroup {
  SpinLock lock;
  std::atomic<bool> used{false};
  std::atomic<std::uint64_t> serial{0};  // the open group's; 0 while closed
  OpenScope scope{};                     // under lock
};

class ScopeGroups {
 public:
  static constexpr std::uint32_t max_groups = 64;

  /// Opens a group; returns it, its serial in *serial. nullptr when all max_groups are open.
  ScopeGroup* open(std::uint32_t name_id, std::uint64_t* serial) noexcept;
  /// Closes `group` opened with `serial`: its totals and sites as OpenScope::finish gives them
  /// (named groups add to no per-name aggregate). False when it is not open with that serial.
  bool close(ScopeGroup* group, std::uint64_t serial, ScopeTotals* out, ScopeSite** sites,
             std::uint32_t* site_count) noexcept;
  /// A member's event. False when the group closed since the member joined: the member
  /// leaves it.
  static bool on_event(ScopeGroup& group, std::uint64_t serial, std::uint32_t stack, bool allocation,
                       std::uint64_t bytes) noexcept;
  /// Forked child: the parent's groups stay with the parent (their threads are not here).
  void reset_after_fork() noexcept;

 private:
  ScopeGroup m_groups[max_groups];
  std::atomic<std::uint64_t> m_next_serial{1};
};

/// What a thread created by the calling thread must join: the caller's open group and its
/// serial. False when the caller is in none (or the runtime is not recording).
bool group_of_caller(ScopeGroup** group, std::uint64_t* serial) noexcept;
/// Called first in a thread created by a group's member: the thread joins the group.
void join_group(ScopeGroup* group, std::uint64_t serial) noexcept;

}  // namespace measure::detail
