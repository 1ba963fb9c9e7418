// pthread_create: a thread created by a member of a scope group (a scope that counts the
// threads it starts, threads/scope_groups.h) joins the group before its start routine runs.
// Every other thread is created exactly as without measure: the original is called with the
// program's own arguments.
#include <cerrno>

#include "hooks/hooks.h"
#include "support/internal_alloc.h"
#include "threads/scope_groups.h"

namespace measure::hooks {
namespace {

struct GroupStart {
  void* (*start)(void*);
  void* arg;
  detail::ScopeGroup* group;
  std::uint64_t serial;
};

void* start_in_group(void* p) {
  GroupStart s = *static_cast<GroupStart*>(p);
  detail::internal_free(p, sizeof(GroupStart));
  detail::join_group(s.group, s.serial);
  return s.start(s.arg);
}

}  // namespace
}  // namespace measure::hooks

extern "C" MEASURE_EXPORT int pthread_create(pthread_t* thread, const pthread_attr_t* attr, void* (*start)(void*),
                                             void* arg) {
  using namespace measure::hooks;
  if (!resolve_originals_once() || g_originals.pthread_create == nullptr) {
    return EAGAIN;
  }
  measure::detail::ScopeGroup* group = nullptr;
  std::uint64_t serial = 0;
  if (pass_through() || !measure::detail::group_of_caller(&group, &serial)) {
    return g_originals.pthread_create(thread, attr, start, arg);
  }
  void* memory = nullptr;
  {
    BusyScope busy;
    memory = measure::detail::internal_alloc(sizeof(GroupStart));
  }
  if (memory == nullptr) {
    return g_originals.pthread_create(thread, attr, start, arg);  // the thread is not counted: no memory
  }
  auto* s = static_cast<GroupStart*>(memory);
  *s = GroupStart{start, arg, group, serial};
  int rc = g_originals.pthread_create(thread, attr, &start_in_group, s);
  if (rc != 0) {
    measure::detail::internal_free(s, sizeof(GroupStart));
  }
  return rc;
}
