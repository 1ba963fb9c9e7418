#include "threads/scope_groups.h"

#include "runtime/runtime.h"
#include "threads/threads.h"

namespace measure::detail {

ScopeGroup* ScopeGroups::open(std::uint32_t name_id, std::uint64_t* serial) noexcept {
  for (ScopeGroup& g : m_groups) {
    bool expected = false;
    if (!g.used.load(std::memory_order_relaxed) &&
        g.used.compare_exchange_strong(expected, true, std::memory_order_acq_rel)) {
      std::uint64_t s = m_next_serial.fetch_add(1, std::memory_order_relaxed);
      SpinGuard guard(g.lock);
      g.scope.start(name_id, s, false);
      g.serial.store(s, std::memory_order_release);
      *serial = s;
      return &g;
    }
  }
  return nullptr;
}

bool ScopeGroups::close(ScopeGroup* group, std::uint64_t serial, ScopeTotals* out, ScopeSite** sites,
                        std::uint32_t* site_count) noexcept {
  if (sites != nullptr) {
    *sites = nullptr;
    *site_count = 0;
  }
  {
    SpinGuard guard(group->lock);
    if (serial == 0 || group->serial.load(std::memory_order_relaxed) != serial) {
      return false;
    }
    group->scope.finish(nullptr, out, sites, site_count);
    group->serial.store(0, std::memory_order_release);
  }
  group->used.store(false, std::memory_order_release);
  return true;
}

bool ScopeGroups::on_event(ScopeGroup& group, std::uint64_t serial, std::uint32_t stack, bool allocation,
                           std::uint64_t bytes) noexcept {
  SpinGuard guard(group.lock);
  if (group.serial.load(std::memory_order_relaxed) != serial) {
    return false;
  }
  group.scope.on_event(stack, allocation, bytes);
  return true;
}

void ScopeGroups::reset_after_fork() noexcept {
  for (ScopeGroup& g : m_groups) {
    g.lock.reset_after_fork();
    g.serial.store(0, std::memory_order_relaxed);
    g.used.store(false, std::memory_order_relaxed);
  }
}

bool group_of_caller(ScopeGroup** group, std::uint64_t* serial) noexcept {
  if (runtime().current() != RuntimeState::recording) {
    return false;
  }
  ThreadState* thread = t_state;  // a thread without a state has joined no group
  if (thread == nullptr || !thread->in_open_group()) {
    return false;
  }
  *group = thread->group;
  *serial = thread->group_serial;
  return true;
}

void join_group(ScopeGroup* group, std::uint64_t serial) noexcept {
  if (runtime().current() != RuntimeState::recording) {
    return;
  }
  BusyScope busy;
  if (ThreadState* thread = current_thread()) {
    thread->group = group;
    thread->group_serial = serial;
  }
}

}  // namespace measure::detail
