#include "runtime/environment.h"

#include <algorithm>
#include <string>
#include <vector>

#include <doctest/doctest.h>

using measure::detail::InjectedEnvironment;

namespace {

// A writable environment, as the process gets it: strings that settle may edit in place.
struct Environment {
  std::vector<std::string> strings;
  std::vector<char*> array;

  explicit Environment(std::vector<std::string> entries) : strings(std::move(entries)) {
    for (std::string& s : strings) {
      array.push_back(s.data());
    }
    array.push_back(nullptr);
  }
  char** get() { return array.data(); }
};

std::vector<std::string> entries(char* const* environment) {
  std::vector<std::string> out;
  for (; environment != nullptr && *environment != nullptr; ++environment) {
    out.emplace_back(*environment);
  }
  return out;
}

std::string item(const std::string& text) {
  return std::to_string(text.size()) + ":" + text;
}

// What `measure run` sets for a program whose own environment has LD_PRELOAD=/lib/own.so,
// MEASURE_MODE=counters and a value with separators in it.
Environment measured() {
  return Environment({"HOME=/root", "LD_PRELOAD=/m/libmeasure_preload.so:/lib/own.so", "MEASURE_MODE=exact",
                      "MEASURE_OUTPUT=/tmp/x.%p.msr", "SEMI=a;b=c", "MEASURE_SEED=7",
                      "MEASURE_INJECTED=" + item("LD_PRELOAD=/lib/own.so") + ";" + item("MEASURE_MODE=counters") + ";" +
                          item("MEASURE_OUTPUT") + ";" + item("LD_AUDIT")});
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

}  // namespace

TEST_CASE("environment: settle gives the program its own environment, in place and in order") {
  Environment env = measured();
  InjectedEnvironment injected;
  REQUIRE(injected.settle(env.get()));
  CHECK(injected.known());
  CHECK(entries(env.get()) == std::vector<std::string>{"HOME=/root", "LD_PRELOAD=/lib/own.so", "MEASURE_MODE=counters",
                                                       "SEMI=a;b=c", "MEASURE_SEED=7"});
}

TEST_CASE("environment: without MEASURE_INJECTED nothing changes; a malformed one is only removed") {
  Environment plain({"LD_PRELOAD=/m/libmeasure_preload.so", "MEASURE_MODE=exact"});
  InjectedEnvironment by_hand;
  CHECK_FALSE(by_hand.settle(plain.get()));
  CHECK_FALSE(by_hand.known());
  CHECK(entries(plain.get()) == std::vector<std::string>{"LD_PRELOAD=/m/libmeasure_preload.so", "MEASURE_MODE=exact"});

  for (const char* bad : {"MEASURE_INJECTED=12:LD_PRELOAD", "MEASURE_INJECTED=x:A", "MEASURE_INJECTED=1:AB",
                          "MEASURE_INJECTED=0:", "MEASURE_INJECTED=2:=A"}) {
    Environment env({"A=1", bad, "MEASURE_MODE=exact"});
    InjectedEnvironment injected;
    CAPTURE(bad);
    CHECK_FALSE(injected.settle(env.get()));  // one warning each
    CHECK(entries(env.get()) == std::vector<std::string>{"A=1", "MEASURE_MODE=exact"});
  }
}

TEST_CASE("environment: a child gets the runtime back, and then its own environment again") {
  Environment env = measured();
  InjectedEnvironment parent;
  REQUIRE(parent.settle(env.get()));
  // The program changes its environment before exec: its own LD_PRELOAD, a new LD_AUDIT, no
  // MEASURE_MODE, a MEASURE_INJECTED of its own.
  Environment program({"HOME=/root", "LD_PRELOAD=/lib/other.so", "LD_AUDIT=/lib/audit.so", "MEASURE_INJECTED=mine"});
  std::size_t bytes = parent.child_bytes(program.get());
  std::vector<char*> memory(bytes / sizeof(char*) + 1);
  InjectedEnvironment::Replaced replaced = {};
  char** child = parent.child_environment(program.get(), memory.data(), bytes, &replaced);
  REQUIRE(child != nullptr);
  // The program's LD_PRELOAD after measure's library, in its place; measure's MEASURE_MODE and
  // MEASURE_OUTPUT after the rest; LD_AUDIT as the program has it (`measure run` listed it,
  // but had not set it); and the list that restores the program's values, its own
  // MEASURE_INJECTED included.
  CHECK(entries(child) ==
        std::vector<std::string>{"HOME=/root", "LD_PRELOAD=/m/libmeasure_preload.so:/lib/other.so",
                                 "LD_AUDIT=/lib/audit.so", "MEASURE_MODE=exact", "MEASURE_OUTPUT=/tmp/x.%p.msr",
                                 "MEASURE_INJECTED=" + item("LD_PRELOAD=/lib/other.so") + ";" + item("MEASURE_MODE") +
                                     ";" + item("MEASURE_OUTPUT") + ";" + item("MEASURE_INJECTED=mine")});
  CHECK(replaced[0] == program.get()[1]);  // LD_PRELOAD
  CHECK(replaced[InjectedEnvironment::max_entries] == program.get()[3]);

  // The child's runtime settles it back to exactly what the program passed.
  Environment copy(entries(child));
  InjectedEnvironment grandchild;
  REQUIRE(grandchild.settle(copy.get()));
  CHECK(sorted(entries(copy.get())) == sorted(entries(program.get())));
}

TEST_CASE("environment: an environment the program made from a child's gets the program's entries back") {
  Environment env = measured();
  InjectedEnvironment injected;
  REQUIRE(injected.settle(env.get()));
  std::size_t bytes = injected.child_bytes(env.get());
  std::vector<char*> memory(bytes / sizeof(char*) + 1);
  InjectedEnvironment::Replaced replaced = {};
  char** child = injected.child_environment(env.get(), memory.data(), bytes, &replaced);
  REQUIRE(child != nullptr);
  // Another thread's setenv copied the child's array and added a variable of its own.
  std::vector<char*> copied(child, child + entries(child).size());
  std::string added = "ADDED=1";
  copied.push_back(added.data());
  copied.push_back(nullptr);
  injected.take_back(copied.data(), memory.data(), bytes, replaced);
  CHECK(sorted(entries(copied.data())) == sorted({"HOME=/root", "LD_PRELOAD=/lib/own.so", "MEASURE_MODE=counters",
                                                  "SEMI=a;b=c", "MEASURE_SEED=7", "ADDED=1"}));
}
