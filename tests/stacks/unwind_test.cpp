// The runtime's stack walk (stacks/unwind.h) against glibc's backtrace(), frame by frame,
// taken at the same point: inside the probe, a function built with frame pointers as the
// toolkit's own code is, called from fixture shapes (unwind_fixtures.h) built with and without
// frame pointers. The probe walks as the hot path does (Unwinder::caller from its own frame,
// then Unwinder::walk), walks again as on a stack of unknown bounds (Unwinder::walk_foreign,
// the DWARF walker), and calls backtrace(). backtrace()'s first frame is the probe itself (the
// return address of its call to backtrace); a walk starts at the probe's caller. So walk frame
// i is backtrace frame i + 1, to the end of the stack, exactly; the only other difference is
// documented (stacks/dwarf_walk.h): a frame reached through a signal frame is the interrupted
// instruction + 1 in a walk, the instruction itself in backtrace().
#include "stacks/unwind.h"

#include <execinfo.h>

#include <cstdint>
#include <vector>

#include <doctest/doctest.h>

#include "platform/platform.h"
#include "stacks/frame_rules.h"
#include "stacks/stack_table.h"
#include "stacks/unwind_fixtures.h"

namespace measure::detail {
namespace {

constexpr std::uint32_t max_frames = 256;
constexpr std::uint32_t max_checks = 512;

// What the probe saw.
struct Sample {
  CallerFrame start{};
  bool found_caller = false;
  WalkResult walk{};
  std::vector<std::uintptr_t> walked;
  // The stack words the walk's result depends on (StackCheck, for the stack cache), looked at
  // while the stack is still there: their values, and whether each still holds its value.
  std::vector<std::uintptr_t> listed;
  bool listed_hold = true;
  WalkResult foreign{};
  std::vector<std::uintptr_t> walked_foreign;
  std::vector<std::uintptr_t> traced;  // backtrace(), its first frame (the probe) dropped
};

// The walks and backtrace() of every probe, and the frames the fixtures name.
struct Probe {
  Unwinder unwinder;
  std::uintptr_t stack_low = 0;
  std::uintptr_t stack_high = 0;
  std::uint32_t max = max_frames;
  Sample sample;
};

Probe& probe_state() {
  static Probe* p = [] {
    auto* state = new Probe;
    REQUIRE(state->unwinder.find_tables());  // glibc 2.35 and later
    REQUIRE(platform::thread_stack_bounds(&state->stack_low, &state->stack_high));
    // backtrace() loads libgcc's unwinder on its first call: not inside a signal handler.
    void* warm_up[4];
    backtrace(warm_up, 4);
    return state;
  }();
  return *p;
}

std::vector<std::uintptr_t> frames_of(const std::uintptr_t* frames, std::uint32_t depth) {
  return std::vector<std::uintptr_t>(frames, frames + depth);
}

// The toolkit's side of the comparison: built with frame pointers (tests/CMakeLists.txt), never
// inlined, as the runtime's entry points are.
extern "C" __attribute__((noinline)) void probe() {
  Probe& p = probe_state();
  auto here = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
  std::uintptr_t frames[max_frames + 1];
  StackCheck checks[max_checks];
  WalkBuffers buffers{p.stack_low, p.stack_high, frames, checks, max_checks, nullptr};
  Sample s;
  s.found_caller = p.unwinder.caller(here, p.stack_low, p.stack_high, &s.start);
  if (s.found_caller) {
    s.walk = p.unwinder.walk(s.start, p.max, buffers);
    s.walked = frames_of(frames, s.walk.depth);
    for (std::uint32_t i = 0; i < s.walk.check_count; ++i) {
      s.listed_hold = s.listed_hold && *reinterpret_cast<const std::uintptr_t*>(checks[i].address) == checks[i].value;
      s.listed.push_back(checks[i].value);
    }
  }
  s.foreign = p.unwinder.walk_foreign(here, p.max, buffers);
  s.walked_foreign = frames_of(frames, s.foreign.depth);
  void* traced[max_frames + 2];
  int n = backtrace(traced, static_cast<int>(p.max) + 1);
  for (int i = 1; i < n; ++i) {
    s.traced.push_back(reinterpret_cast<std::uintptr_t>(traced[i]));
  }
  p.sample = s;
  __asm__ volatile("" ::: "memory");  // no tail call: the frame stays while backtrace() runs
}

// The fixture's sample and its entry's return address (its caller in the test).
struct Run {
  Sample sample;
  std::uintptr_t entry;
};

template <class Call>
Run run(Call call) {
  void* entry = nullptr;
  call(&entry);
  return Run{probe_state().sample, reinterpret_cast<std::uintptr_t>(entry)};
}

// Both walks equal backtrace() frame for frame, to the end of the stack, and end there
// (neither truncated nor partial).
void check_as_backtrace(const Sample& s) {
  REQUIRE(s.found_caller);
  REQUIRE(s.traced.size() > 3);
  CHECK(s.walk.flags == 0);
  CHECK(s.walked == s.traced);
  CHECK(s.foreign.flags == 0);
  CHECK(s.walked_foreign == s.traced);
}

// The index of `address` in `frames`; frames.size() when absent.
std::size_t index_of(const std::vector<std::uintptr_t>& frames, std::uintptr_t address) {
  for (std::size_t i = 0; i < frames.size(); ++i) {
    if (frames[i] == address) {
      return i;
    }
  }
  return frames.size();
}

struct Build {
  const char* name;
  const unwind_fixtures* fixtures;
  std::uint8_t cfa_from_rbp;  // the rule of the fixtures' frames: CFA from rbp (frame pointers) or rsp
};

const Build builds[] = {{"with frame pointers", &unwind_fixtures_fp, 1},
                        {"without frame pointers", &unwind_fixtures_no_fp, 0}};

}  // namespace

TEST_CASE("unwind: a chain of calls, with and without frame pointers, as backtrace() sees it") {
  for (const Build& b : builds) {
    CAPTURE(b.name);
    Run r = run([&](void** entry) { b.fixtures->chain(&probe, entry); });
    check_as_backtrace(r.sample);
    // leaf, middle, the entry, then the test.
    REQUIRE(r.sample.walked.size() > 4);
    CHECK(r.sample.walked[0] == r.sample.start.ip);
    CHECK(index_of(r.sample.walked, r.entry) == 3);
    for (std::size_t i = 0; i < 3; ++i) {
      CAPTURE(i);
      FrameRule rule = compute_frame_rule(r.sample.walked[i]);
      CHECK(rule.kind == FrameRule::standard);
      CHECK(rule.cfa_from_rbp == b.cfa_from_rbp);
    }
    if (b.cfa_from_rbp == 0) {
      // The leaf called the probe with rbp = 0: only its unwind tables lead past it.
      CHECK(r.sample.start.fp == 0);
    }
  }
}

TEST_CASE("unwind: recursive frames, one per call, as backtrace() sees them") {
  constexpr int depth = 6;
  for (const Build& b : builds) {
    CAPTURE(b.name);
    Run r = run([&](void** entry) { b.fixtures->recursion(depth, &probe, entry); });
    check_as_backtrace(r.sample);
    const std::vector<std::uintptr_t>& w = r.sample.walked;
    // recurse(0) at its call of the probe; recurse(1 .. depth) at the recursive call, the
    // same return address each time; the entry; the test.
    REQUIRE(w.size() > depth + 2);
    CHECK(w[0] != w[1]);
    for (int i = 2; i <= depth; ++i) {
      CAPTURE(i);
      CHECK(w[static_cast<std::size_t>(i)] == w[1]);
    }
    CHECK(w[depth + 1] != w[1]);
    CHECK(index_of(w, r.entry) == depth + 2);
  }
}

TEST_CASE("unwind: inlined functions are no frames of their own, in a walk as in backtrace()") {
  for (const Build& b : builds) {
    CAPTURE(b.name);
    Run r = run([&](void** entry) { b.fixtures->inlined(&probe, entry); });
    check_as_backtrace(r.sample);
    // Two inlined levels inside the entry: its own frame, then the test.
    CHECK(index_of(r.sample.walked, r.entry) == 1);
  }
}

TEST_CASE("unwind: a DRAP frame (an over-aligned local and a variable-length array) is stepped by its rule") {
  for (const Build& b : builds) {
    CAPTURE(b.name);
    for (int n : {1, 100, 5000}) {
      CAPTURE(n);
      Run r = run([&](void** entry) { b.fixtures->drap(n, &probe, entry); });
      check_as_backtrace(r.sample);
      // leaf, the DRAP frame, the entry, the test.
      REQUIRE(r.sample.walked.size() > 4);
      CHECK(compute_frame_rule(r.sample.walked[1]).kind == FrameRule::drap);
      CHECK(index_of(r.sample.walked, r.entry) == 3);
    }
  }
}

TEST_CASE("unwind: across the kernel's signal frame into the interrupted code, as backtrace() sees it") {
  for (const Build& b : builds) {
    CAPTURE(b.name);
    Run r = run([&](void** entry) { b.fixtures->signal(&probe, entry); });
    const Sample& s = r.sample;
    REQUIRE(s.found_caller);
    // The handler; the signal trampoline (glibc's restorer, whose unwind rule is the DWARF
    // walker's); the interrupted instruction, + 1 in a walk; then raise() and its callers.
    REQUIRE(s.traced.size() > 4);
    std::vector<std::uintptr_t> expected = s.traced;
    expected[2] += 1;
    CHECK(compute_frame_rule(s.traced[1]).kind == FrameRule::unsupported);
    CHECK(s.walk.flags == 0);
    CHECK(s.walked == expected);
    CHECK(s.foreign.flags == 0);
    CHECK(s.walked_foreign == expected);
    CHECK(index_of(s.walked, r.entry) < s.walked.size());
  }
}

TEST_CASE("unwind: a walk cut at its depth limit is the same stack's beginning, flagged truncated") {
  Probe& p = probe_state();
  p.max = 3;
  Run r = run([&](void** entry) { unwind_fixtures_no_fp.chain(&probe, entry); });
  p.max = max_frames;
  const Sample& s = r.sample;
  REQUIRE(s.found_caller);
  CHECK(s.walk.depth == 3);
  CHECK(s.walk.flags == stack_truncated);
  CHECK(s.foreign.depth == 3);
  CHECK(s.foreign.flags == stack_truncated);
  REQUIRE(s.traced.size() == 3);  // backtrace() was asked for the probe and 3 more frames
  CHECK(s.walked == s.traced);
  CHECK(s.walked_foreign == s.traced);
}

TEST_CASE("unwind: the stack words a walk lists for the stack cache hold what it read") {
  for (const Build& b : builds) {
    CAPTURE(b.name);
    Run r = run([&](void** entry) { b.fixtures->chain(&probe, entry); });
    const Sample& s = r.sample;
    CHECK(s.walk.cacheable);
    CHECK(s.listed_hold);
    // Every frame after the first was read from the stack, and the read was listed.
    for (std::size_t i = 1; i < s.walked.size(); ++i) {
      CAPTURE(i);
      CHECK(index_of(s.listed, s.walked[i]) < s.listed.size());
    }
  }
}

}  // namespace measure::detail
