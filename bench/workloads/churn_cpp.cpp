// An allocation-bound C++ program for the overhead benchmark (bench/overhead.cpp): what
// idiomatic C++ does all day (strings, vectors that grow, map nodes, shared_ptr control
// blocks, plain new and delete), with little other work. Deterministic per thread.
//
//   churn_cpp [--threads N] [--ops N] [--size small|large]
//
//   --ops   operations per thread (default 5,000,000; each makes 1 to 3 allocations)
//   --size  small: strings and nodes of tens of bytes (default); large: 4 KiB to 68 KiB buffers
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

struct Config {
  int threads = 1;
  long ops = 5000000;
  bool large = false;
};
Config g_config;

struct Random {
  std::uint64_t state;
  std::uint64_t next() {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  }
};

struct Record {
  std::string name;
  std::vector<int> values;
  std::uint64_t key = 0;
};

#define NOINLINE __attribute__((noinline))

NOINLINE std::string make_name(Random& r) {
  std::string s = "record-";
  std::size_t n = 16 + r.next() % 48;  // past the small-string buffer: on the heap
  s.append(n, static_cast<char>('a' + r.next() % 26));
  return s;
}

NOINLINE std::unique_ptr<Record> make_record(Random& r) {
  auto rec = std::make_unique<Record>();
  rec->name = make_name(r);
  rec->key = r.next();
  std::size_t n = 1 + r.next() % 12;
  for (std::size_t i = 0; i < n; ++i) {
    rec->values.push_back(static_cast<int>(i));  // grows: 1, 2, 4, 8, 16 ints
  }
  return rec;
}

NOINLINE std::vector<char> make_buffer(Random& r) {
  std::size_t n = g_config.large ? 4096 + r.next() % 65536 : 16 + r.next() % 256;
  std::vector<char> buffer(n);
  buffer[0] = static_cast<char>(n);
  return buffer;
}

// Keeps a bounded working set of each kind, replacing a random member per operation.
class Workload {
 public:
  explicit Workload(std::uint64_t seed) : m_random{seed} {
    m_records.resize(1024);
    m_buffers.resize(1024);
    m_shared.resize(256);
  }

  NOINLINE void step() {
    std::uint64_t r = m_random.next();
    switch (r % 8) {
      case 0:
      case 1:
      case 2:
        m_records[(r >> 20) % m_records.size()] = make_record(m_random);
        break;
      case 3:
      case 4:
        m_buffers[(r >> 20) % m_buffers.size()] = make_buffer(m_random);
        break;
      case 5:
        m_shared[(r >> 20) % m_shared.size()] = std::make_shared<std::uint64_t>(r);
        break;
      default: {
        auto it = m_index.find(r % 4096);
        if (it != m_index.end()) {
          m_index.erase(it);
        } else {
          m_index.emplace(r % 4096, make_name(m_random));
        }
        break;
      }
    }
  }

 private:
  Random m_random;
  std::vector<std::unique_ptr<Record>> m_records;
  std::vector<std::vector<char>> m_buffers;
  std::vector<std::shared_ptr<std::uint64_t>> m_shared;
  std::map<std::uint64_t, std::string> m_index;
};

NOINLINE void worker(int id) {
  Workload w(0x9e3779b97f4a7c15ULL ^ static_cast<std::uint64_t>(id + 1));
  for (long i = 0; i < g_config.ops; ++i) {
    w.step();
  }
}

long number(const char* text) {
  char* end = nullptr;
  long v = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || v < 0) {
    std::fprintf(stderr, "churn_cpp: bad number '%s'\n", text);
    std::exit(2);
  }
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--threads") == 0) {
      g_config.threads = static_cast<int>(number(argv[i + 1]));
    } else if (std::strcmp(argv[i], "--ops") == 0) {
      g_config.ops = number(argv[i + 1]);
    } else if (std::strcmp(argv[i], "--size") == 0) {
      g_config.large = std::strcmp(argv[i + 1], "large") == 0;
    } else {
      std::fprintf(stderr, "churn_cpp: unknown option '%s'\n", argv[i]);
      return 2;
    }
  }
  if (g_config.threads < 1) {
    std::fprintf(stderr, "churn_cpp: --threads must be at least 1\n");
    return 2;
  }
  if (g_config.threads == 1) {
    worker(0);
    return 0;
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < g_config.threads; ++t) {
    threads.emplace_back(worker, t);
  }
  for (std::thread& t : threads) {
    t.join();
  }
  return 0;
}
