// The calling thread's state, found with one thread-local load on every event: attached on
// the thread's first event, given back when the thread exits (through the runtime's
// thread-exit slot), and, in a fork child, the only one kept.
#pragma once

#include <cstdint>

#include "threads/thread_state.h"

namespace measure::detail {

extern __thread ThreadState* t_state __attribute__((tls_model("initial-exec")));

/// A thread's first event: takes a state (mapped, or from the pool), finds the thread's stack,
/// enlists it in the peak account and seeds its sampler. Out of line and cold. nullptr when
/// out of memory (the event is then dropped and counted).
__attribute__((noinline, cold)) ThreadState* attach_thread() noexcept;

/// The calling thread's state, attached on its first event; nullptr when out of memory.
inline ThreadState* current_thread() noexcept {
  ThreadState* state = t_state;
  return __builtin_expect(state != nullptr, 1) ? state : attach_thread();
}

/// The low end of the calling thread's stack when it has a state already (it attaches
/// nothing, so a vfork child may ask); false when unknown.
bool calling_thread_stack_low(std::uintptr_t* low) noexcept;
/// Gives a thread's state back when the thread exits: the runtime's thread-exit slot.
void release_thread_state(void* state) noexcept;
/// Fork child: only the calling thread exists; keeps its state, frees the others.
void keep_only_current_thread() noexcept;
/// A followed fork child's threads draw from the child's own seed (Runtime::sample_seed).
void restart_samplers() noexcept;

}  // namespace measure::detail
