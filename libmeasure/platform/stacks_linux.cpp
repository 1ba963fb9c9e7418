// Linux (glibc, x86-64) implementation of platform.h's stacks: the thread's stack bounds,
// readability checks for memory off it, and the side stacks the runtime's slow paths run on.
#include <errno.h>
#include <pthread.h>
#include <unistd.h>

#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/uio.h>

#include "platform/platform.h"

// The loader's: the stack pointer at the program's entry.
extern "C" void* __libc_stack_end;  // NOLINT(readability-identifier-naming)

namespace measure::detail::platform {

std::size_t readable_pages(std::uintptr_t first_page, std::size_t count) noexcept {
  constexpr std::size_t max_count = 16;
  count = count < max_count ? count : max_count;
  unsigned char bytes[max_count];
  iovec local{bytes, count};
  iovec remote[max_count];
  for (std::size_t i = 0; i < count; ++i) {
    remote[i] = iovec{reinterpret_cast<void*>(first_page + i * page_size()), 1};
  }
  // The kernel copies element by element and stops at the first it cannot read, so the count
  // is the readable prefix. EFAULT (nothing readable), ENOSYS and EPERM all answer 0.
  int saved = errno;
  ssize_t n = ::process_vm_readv(process_id(), &local, 1, remote, count, 0);
  errno = saved;
  return n > 0 ? static_cast<std::size_t>(n) : 0;
}

void* map_stack(std::size_t bytes) noexcept {
  const std::size_t guard = page_size();
  void* p = ::mmap(nullptr, bytes + guard, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  if (p == MAP_FAILED) {
    return nullptr;
  }
  // An overflow faults on the guard instead of writing into whatever lies below.
  ::mprotect(p, guard, PROT_NONE);
  return static_cast<char*>(p) + guard + bytes;
}

}  // namespace measure::detail::platform

// run_on_stack: a frame-pointer frame on the caller's stack, so that anything that walks the
// toolkit's frames (a debugger, the CFI below) finds the caller's stack from rbp.
#if !defined(__x86_64__)
#error "run_on_stack is written for x86-64"
#endif
extern "C" void measure_run_on_stack(void* top, void (*fn)(void*), void* arg) noexcept
    __attribute__((visibility("hidden")));
asm(R"(
  .text
  .p2align 4
  .globl measure_run_on_stack
  .hidden measure_run_on_stack
  .type measure_run_on_stack, @function
measure_run_on_stack:
  .cfi_startproc
  pushq %rbp
  .cfi_def_cfa_offset 16
  .cfi_offset %rbp, -16
  movq %rsp, %rbp
  .cfi_def_cfa_register %rbp
  movq %rdi, %rsp
  movq %rdx, %rdi
  callq *%rsi
  movq %rbp, %rsp
  popq %rbp
  .cfi_def_cfa %rsp, 8
  ret
  .cfi_endproc
  .size measure_run_on_stack, .-measure_run_on_stack
)");

namespace measure::detail::platform {

void run_on_stack(void* stack_top, void (*fn)(void*), void* arg) noexcept {
  measure_run_on_stack(stack_top, fn, arg);
}

namespace {

// The process's first thread: its stack is the one the kernel set up, which grows on demand up
// to RLIMIT_STACK below the entry's stack pointer. (The thread library would find its bounds in
// /proc/self/maps, opening a file on one of the program's lowest free descriptors.) A fork child
// of another thread is taken for it too; its walks then take the path for foreign stacks.
bool initial_thread_bounds(std::uintptr_t* low, std::uintptr_t* high) noexcept {
  if (process_id() != static_cast<int>(thread_id()) || __libc_stack_end == nullptr) {
    return false;
  }
  constexpr std::uint64_t max_growth = 1ULL << 30;
  rlimit limit{};
  std::uint64_t growth = ::getrlimit(RLIMIT_STACK, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY
                             ? static_cast<std::uint64_t>(limit.rlim_cur)
                             : max_growth;
  growth = growth < max_growth ? growth : max_growth;
  std::uintptr_t top = (reinterpret_cast<std::uintptr_t>(__libc_stack_end) + page_size()) & ~(page_size() - 1);
  *high = top;
  *low = top > growth ? top - growth : page_size();
  return true;
}

}  // namespace

bool thread_stack_bounds(std::uintptr_t* low, std::uintptr_t* high) noexcept {
  if (initial_thread_bounds(low, high)) {
    return true;
  }
  pthread_attr_t attr;
  if (::pthread_getattr_np(::pthread_self(), &attr) != 0) {
    return false;
  }
  void* addr = nullptr;
  std::size_t size = 0;
  bool ok = ::pthread_attr_getstack(&attr, &addr, &size) == 0;
  ::pthread_attr_destroy(&attr);
  if (!ok) {
    return false;
  }
  *low = reinterpret_cast<std::uintptr_t>(addr);
  *high = *low + size;
  return true;
}

}  // namespace measure::detail::platform
