// Thread states: a thread's first event attaches one, its exit gives it back, and a fork
// child keeps only the calling thread's.
#include "threads/threads.h"

#include "runtime/runtime.h"
#include "support/hash.h"

namespace measure::detail {

__thread ThreadState* t_state __attribute__((tls_model("initial-exec"))) = nullptr;

namespace {

// Each thread's stream of sample points is seeded from the process's seed and the order in
// which threads first allocate: with MEASURE_SEED, a program that allocates the same way gets
// the same samples (reproducible estimates); without, every run draws its own.
void start_sampler(Runtime& rt, ThreadState& state) noexcept {
  std::uint64_t index = rt.threads_attached.fetch_add(1, std::memory_order_relaxed);
  state.sampler.start(rt.options.sample_interval, mix64(rt.sample_seed + 0x9e3779b97f4a7c15ULL * (index + 1)));
}

}  // namespace

ThreadState* attach_thread() noexcept {
  // The set-up runs on the state's side stack: the thread library's calls and the first
  // allocations of the toolkit's own memory need more stack than the hot path may take from
  // the program, and the thread's stack bounds, which would tell whether its own stack has
  // room, are not known yet.
  Runtime& rt = runtime();
  ThreadState* state = rt.threads.acquire();
  if (state == nullptr) {
    return nullptr;
  }
  bool ready = false;
  auto set_up = [&] {
    platform::thread_stack_bounds(&state->stack_low, &state->stack_high);
    rt.account.enlist(state->account_lease);
    // Site 0 (unknown stack) must always exist: it is the fallback when memory runs out.
    if (state->site(StackTable::unknown_id) == nullptr) {
      return;
    }
    if (rt.thread_slot_ready) {
      platform::thread_exit_slot_set(rt.thread_slot, state);
    }
    start_sampler(rt, *state);
    ready = true;
  };
  state->run_with_room(set_up);
  if (!ready) {
    rt.threads.release(state);
    return nullptr;
  }
  t_state = state;
  return state;
}

void release_thread_state(void* state) noexcept {
  t_state = nullptr;
  auto* thread = static_cast<ThreadState*>(state);
  runtime().account.give_back(thread->account_lease);
  runtime().threads.release(thread);
}

void keep_only_current_thread() noexcept {
  runtime().threads.release_all_but(t_state);
}

void restart_samplers() noexcept {
  // The calling thread's stream restarts from the child's seed, so the child never draws the
  // sample points its parent draws.
  Runtime& rt = runtime();
  rt.threads_attached.store(0, std::memory_order_relaxed);
  if (t_state != nullptr) {
    start_sampler(rt, *t_state);
  }
}

bool calling_thread_stack_low(std::uintptr_t* low) noexcept {
  if (t_state == nullptr) {
    return false;
  }
  *low = t_state->stack_low;
  return true;
}

}  // namespace measure::detail
