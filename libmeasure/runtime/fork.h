// Fork handling (runtime/fork.cpp): before a fork the runtime takes its locks, so the child
// never inherits one held by a thread that does not exist there; after it the parent releases
// them, and the child resets them, keeps only its own thread's state and either starts a
// capture of its own (--follow-forks: counters from zero, the blocks it inherited as one
// "inherited at fork" site) or runs untraced.
#pragma once

namespace measure::detail {

/// Registers the fork handlers (pthread_atfork). Call once, from the library constructor.
void register_fork_handlers() noexcept;

}  // namespace measure::detail
