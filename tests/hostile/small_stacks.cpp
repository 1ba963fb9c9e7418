// Allocations on small stacks: a makecontext coroutine's, a handler's on a sigaltstack, and a
// coroutine on which a new thread makes its very first allocation. Measured, the hooks must need
// little more of such a stack than the allocator itself does natively.
//
//   small_stacks paint            each operation in each place on a 64 KiB stack filled with a
//                                 pattern first; prints the bytes it used (the distance from the
//                                 top to the lowest byte that changed): "PLACE OPERATION BYTES"
//   small_stacks run PLACE BYTES  each operation in PLACE on a stack of exactly BYTES directly
//                                 above an inaccessible page, where using more faults; prints "ok"
//
// Each operation runs twice from its own call site in one visit, so both a first call (a stack
// walk) and a repeated one (the walk cached) are measured.
#include <pthread.h>
#include <signal.h>
#include <ucontext.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

#include <sys/mman.h>

namespace {

constexpr std::size_t paint_bytes = 64 * 1024;
constexpr unsigned char paint = 0xa5;

void* volatile g_sink;

#define NOINLINE __attribute__((noinline))

NOINLINE void op_malloc() {
  for (int i = 0; i < 2; ++i) {
    g_sink = std::malloc(24);
    std::free(g_sink);
  }
}
NOINLINE void op_calloc() {
  for (int i = 0; i < 2; ++i) {
    g_sink = std::calloc(3, 40);
    std::free(g_sink);
  }
}
NOINLINE void op_realloc() {
  for (int i = 0; i < 2; ++i) {
    void* p = std::malloc(40);
    p = std::realloc(p, 400);
    p = std::realloc(p, 4000);
    g_sink = p;
    std::free(p);
  }
}
NOINLINE void op_memalign() {
  for (int i = 0; i < 2; ++i) {
    void* p = nullptr;
    if (posix_memalign(&p, 64, 100) == 0) {
      g_sink = p;
      std::free(p);
    }
  }
}
NOINLINE void op_new() {
  for (int i = 0; i < 2; ++i) {
    int* p = new int(i);
    g_sink = p;
    delete p;
  }
}
NOINLINE void op_new_array() {
  for (int i = 0; i < 2; ++i) {
    char* p = new char[100];
    g_sink = p;
    delete[] p;
  }
}
NOINLINE void op_new_aligned() {
  struct alignas(64) Wide {
    char bytes[64];
  };
  for (int i = 0; i < 2; ++i) {
    Wide* p = new Wide();
    g_sink = p;
    delete p;
  }
}

struct Operation {
  const char* name;
  void (*run)();
};
const Operation g_operations[] = {
    {"malloc", op_malloc}, {"calloc", op_calloc},   {"realloc", op_realloc},         {"posix_memalign", op_memalign},
    {"new", op_new},       {"new[]", op_new_array}, {"new_aligned", op_new_aligned},
};

// A stack of `bytes` ending at the end of a mapping whose first page is inaccessible: using more
// than `bytes` faults.
struct Stack {
  char* mapping;
  std::size_t mapping_bytes;
  char* base;
  std::size_t bytes;
};

Stack map_stack(std::size_t bytes) {
  std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  std::size_t rounded = (bytes + page - 1) / page * page;
  Stack s{};
  s.mapping_bytes = rounded + page;
  s.mapping =
      static_cast<char*>(mmap(nullptr, s.mapping_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  if (s.mapping == MAP_FAILED) {
    std::perror("mmap");
    std::exit(2);
  }
  mprotect(s.mapping, page, PROT_NONE);
  s.bytes = bytes & ~std::size_t{15};
  s.base = s.mapping + s.mapping_bytes - s.bytes;  // the guard page lies right below
  return s;
}

void unmap_stack(const Stack& s) {
  munmap(s.mapping, s.mapping_bytes);
}

// Bytes of `s` used since it was painted.
std::size_t used(const Stack& s) {
  std::size_t low = 0;
  while (low < s.bytes && static_cast<unsigned char>(s.base[low]) == paint) {
    ++low;
  }
  return s.bytes - low;
}

// ---- the places ---------------------------------------------------------------------------

ucontext_t g_caller;
ucontext_t g_coroutine;
const Operation* g_current;

void coroutine_entry() {
  g_current->run();
}

// `op` on a makecontext coroutine running on `stack`.
void on_coroutine(const Operation& op, const Stack& stack) {
  g_current = &op;
  getcontext(&g_coroutine);
  g_coroutine.uc_stack.ss_sp = stack.base;
  g_coroutine.uc_stack.ss_size = stack.bytes;
  g_coroutine.uc_link = &g_caller;
  makecontext(&g_coroutine, coroutine_entry, 0);
  swapcontext(&g_caller, &g_coroutine);
}

void handler(int) {
  g_current->run();
}

// `op` in a SIGUSR1 handler running on `stack` as the thread's sigaltstack.
void on_sigaltstack(const Operation& op, const Stack& stack) {
  g_current = &op;
  stack_t alt{};
  alt.ss_sp = stack.base;
  alt.ss_size = stack.bytes;
  if (sigaltstack(&alt, nullptr) != 0) {
    std::perror("sigaltstack");
    std::exit(2);
  }
  struct sigaction action {};
  action.sa_handler = handler;
  action.sa_flags = SA_ONSTACK;
  sigemptyset(&action.sa_mask);
  sigaction(SIGUSR1, &action, nullptr);
  raise(SIGUSR1);
  alt.ss_flags = SS_DISABLE;
  sigaltstack(&alt, nullptr);
}

// `op` on a coroutine of a new thread, as that thread's first allocation.
struct ThreadVisit {
  const Operation* op;
  const Stack* stack;
};
void* thread_main(void* arg) {
  auto* visit = static_cast<ThreadVisit*>(arg);
  on_coroutine(*visit->op, *visit->stack);
  return nullptr;
}
void on_new_thread(const Operation& op, const Stack& stack) {
  ThreadVisit visit{&op, &stack};
  pthread_t thread;
  if (pthread_create(&thread, nullptr, thread_main, &visit) != 0) {
    std::exit(2);
  }
  pthread_join(thread, nullptr);
}

struct Place {
  const char* name;
  void (*visit)(const Operation&, const Stack&);
};
const Place g_places[] = {
    {"coroutine", on_coroutine},
    {"sigaltstack", on_sigaltstack},
    {"new-thread-coroutine", on_new_thread},
};

}  // namespace

int main(int argc, char** argv) {
  bool painting = argc == 2 && std::strcmp(argv[1], "paint") == 0;
  if (!painting && !(argc == 4 && std::strcmp(argv[1], "run") == 0)) {
    std::fprintf(stderr, "usage: small_stacks paint | small_stacks run PLACE BYTES\n");
    return 2;
  }
  std::size_t bytes = painting ? paint_bytes : std::strtoul(argv[3], nullptr, 10);
  for (const Place& place : g_places) {
    if (!painting && std::strcmp(place.name, argv[2]) != 0) {
      continue;
    }
    for (const Operation& op : g_operations) {
      Stack stack = map_stack(bytes);
      std::memset(stack.base, paint, stack.bytes);
      place.visit(op, stack);
      if (painting) {
        std::printf("%s %s %zu\n", place.name, op.name, used(stack));
      }
      unmap_stack(stack);
    }
  }
  if (!painting) {
    std::printf("ok\n");
  }
  return 0;
}
