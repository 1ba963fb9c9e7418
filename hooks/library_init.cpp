// The library constructor: runs once the loader has relocated us, at a safe point for the
// work the hooks must never do themselves (scanning modules, registering
// exit and fork handlers).
#include "hooks/hooks.h"
#include "platform/platform.h"

namespace measure::hooks {
namespace {

__attribute__((constructor(101))) void on_load() noexcept {
  resolve_originals();
  resolve_cxx_originals();
  if (loaded_for_attach()) {
    detail::on_library_loaded(detail::LoadRole::attach);
    return;
  }
  // This copy's hooks are live only if the program's malloc is ours. When the library is
  // both preloaded and linked (or the program defines malloc itself) the other copy owns it.
  detail::on_library_loaded(malloc_owner() == MallocOwner::other_measure ? detail::LoadRole::dormant
                            : malloc_owner() == MallocOwner::foreign     ? detail::LoadRole::incomplete
                                                                         : detail::LoadRole::owner);
}

}  // namespace
}  // namespace measure::hooks
