// Linux (glibc) implementation of platform.h (module_function is in elf_symbols_linux.cpp, the
// stacks in stacks_linux.cpp, the file functions in files_linux.cpp).
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <atomic>

#include <gnu/libc-version.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/single_threaded.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "platform/descriptors_linux.h"
#include "platform/platform.h"
#include "platform/retry_linux.h"

// glibc's, not in a header.
extern "C" int __cxa_atexit(void (*fn)(void*), void* arg, void* dso_handle);  // NOLINT(readability-identifier-naming)
// Weak: absent from glibc before 2.35, where find_unwind_tables reports it unavailable.
extern "C" int _dl_find_object(void* address, dl_find_object* result) __THROW __attribute__((weak));

namespace measure::detail::platform {
void* map_pages(std::size_t bytes) noexcept {
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

void unmap_pages(void* p, std::size_t bytes) noexcept {
  if (p != nullptr) {
    ::munmap(p, bytes);
  }
}

void populate_pages(void* p, std::size_t bytes) noexcept {
  if (p != nullptr && bytes != 0) {
    ::madvise(p, bytes, MADV_POPULATE_WRITE);  // an error leaves the pages to fault in as usual
  }
}

void* grow_pages(void* p, std::size_t old_bytes, std::size_t new_bytes) noexcept {
  if (p == nullptr) {
    return map_pages(new_bytes);
  }
  void* moved = ::mremap(p, old_bytes, new_bytes, MREMAP_MAYMOVE);
  return moved == MAP_FAILED ? nullptr : moved;
}

std::size_t page_size() noexcept {
  // The runtime is built without thread-safe statics (no guard calls on the hot path), so the
  // cache is a relaxed atomic: racing first callers both ask sysconf and store the same value.
  static std::atomic<long> cached{0};
  long size = cached.load(std::memory_order_relaxed);
  if (size == 0) {
    size = ::sysconf(_SC_PAGESIZE);
    size = size > 0 ? size : 4096;
    cached.store(size, std::memory_order_relaxed);
  }
  return static_cast<std::size_t>(size);
}

std::uint64_t monotonic_ns() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
}

std::uint64_t realtime_ns() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
}

int process_id() noexcept {
  return static_cast<int>(::syscall(SYS_getpid));
}
int parent_process_id() noexcept {
  return static_cast<int>(::syscall(SYS_getppid));
}
[[noreturn]] void exit_process(int status) noexcept {
  for (;;) {
    ::syscall(SYS_exit_group, status);
  }
}

std::uint64_t thread_id() noexcept {
  return static_cast<std::uint64_t>(::syscall(SYS_gettid));
}
void thread_name(std::uint64_t tid, char (&out)[16]) noexcept {
  out[0] = '\0';
  if (tid == thread_id()) {
    if (::prctl(PR_GET_NAME, out, 0, 0, 0) != 0) {
      out[0] = '\0';
    }
    out[15] = '\0';
    return;
  }
  char path[64];
  ::snprintf(path, sizeof path, "/proc/self/task/%llu/comm", static_cast<unsigned long long>(tid));
  // At the top of the range: the program's open() calls get the numbers they would natively.
  int fd = open_at_top(path, O_RDONLY);
  if (fd < 0) {
    return;
  }
  ssize_t n = retry([&] { return ::read(fd, out, 15); });
  ::close(fd);
  std::size_t length = n > 0 ? static_cast<std::size_t>(n) : 0;
  while (length > 0 && out[length - 1] == '\n') {
    --length;
  }
  out[length] = '\0';
}
void yield_cpu() noexcept {
  ::sched_yield();
}

std::uint64_t random_u64() noexcept {
  std::uint64_t value = 0;
  if (retry([&] { return ::getrandom(&value, sizeof value, GRND_NONBLOCK); }) == sizeof value) {
    return value;
  }
  value = monotonic_ns() ^ realtime_ns() * 0x9e3779b97f4a7c15ULL ^ static_cast<std::uint64_t>(process_id()) << 40;
  return value ^ reinterpret_cast<std::uintptr_t>(&value);
}

bool current_directory(char* buf, std::size_t size) noexcept {
  return ::getcwd(buf, size) != nullptr;
}

bool executable_path(char* buf, std::size_t size) noexcept {
  if (size == 0) {
    return false;
  }
  ssize_t n = ::readlink("/proc/self/exe", buf, size - 1);
  if (n <= 0) {
    return false;
  }
  buf[n] = '\0';
  return true;
}

std::size_t command_line(char* buf, std::size_t size) noexcept {
  int fd = open_at_top("/proc/self/cmdline", O_RDONLY);
  if (fd < 0) {
    return 0;
  }
  std::size_t total = 0;
  while (total < size) {
    ssize_t n = retry([&] { return ::read(fd, buf + total, size - total); });
    if (n <= 0) {
      break;
    }
    total += static_cast<std::size_t>(n);
  }
  ::close(fd);
  return total;
}

void write_stderr(const char* text, std::size_t size) noexcept {
  int saved = errno;  // a warning must never change the program's errno
  write_all(STDERR_FILENO, text, size);
  errno = saved;
}

std::uint64_t resident_bytes_of(const void* p, std::size_t bytes) noexcept {
  const std::size_t page = page_size();
  auto begin = reinterpret_cast<std::uintptr_t>(p) & ~(page - 1);
  std::uintptr_t end = reinterpret_cast<std::uintptr_t>(p) + bytes;
  unsigned char pages[1024];
  std::uint64_t total = 0;
  while (begin < end) {
    std::size_t span = end - begin < sizeof pages * page ? end - begin : sizeof pages * page;
    if (::mincore(reinterpret_cast<void*>(begin), span, pages) != 0) {
      return 0;
    }
    for (std::size_t i = 0; i < (span + page - 1) / page; ++i) {
      total += (pages[i] & 1U) != 0 ? page : 0;
    }
    begin += span;
  }
  return total;
}

namespace {

// /proc/self/statm, open at the top of the descriptor range for the whole run (the timeline
// samples it a thousand times in the first second). Before each read the descriptor is checked
// to be that file still: a program that closed it (closefrom) or put a file of its own on its
// number is never read from, and the file is not opened again while the program runs.
struct StatmFile {
  std::atomic<int> fd{-1};
  std::atomic<int> owner{0};  // the process that opened it: a forked child opens its own
  dev_t device = 0;
  ino_t inode = 0;
  std::atomic<bool> lost{false};  // closed or replaced by the program: not read again
};
StatmFile g_statm;

// The descriptor still refers to the file the toolkit opened (the program may have closed it and
// put a file of its own on the number).
bool statm_still_open(int fd) noexcept {
  struct stat st {};
  return fd >= 0 && ::fstat(fd, &st) == 0 && st.st_dev == g_statm.device && st.st_ino == g_statm.inode;
}

// Closes a parent's descriptor in a forked child, unless the number is the program's by now.
void close_parents_statm(int fd) noexcept {
  if (statm_still_open(fd)) {
    ::close(fd);
  }
  g_statm.fd.store(-1, std::memory_order_release);
  g_statm.owner.store(0, std::memory_order_release);
}

int statm_descriptor() noexcept {
  int pid = process_id();
  int fd = g_statm.fd.load(std::memory_order_acquire);
  if (g_statm.owner.load(std::memory_order_acquire) == pid) {
    return g_statm.lost.load(std::memory_order_relaxed) ? -1 : fd;
  }
  // The first sample, or a forked child still holding its parent's file (whose numbers are the
  // parent's): the runtime's start-up and a child's fork handler, before the program runs on.
  if (fd >= 0) {
    close_parents_statm(fd);
  }
  int fresh = open_at_top("/proc/self/statm", O_RDONLY);
  struct stat st {};
  bool ok = fresh >= 0 && ::fstat(fresh, &st) == 0;
  g_statm.device = st.st_dev;
  g_statm.inode = st.st_ino;
  g_statm.lost.store(!ok, std::memory_order_relaxed);
  g_statm.fd.store(ok ? fresh : -1, std::memory_order_release);
  g_statm.owner.store(pid, std::memory_order_release);
  return ok ? fresh : -1;
}

}  // namespace

std::uint64_t resident_bytes() noexcept {
  int fd = statm_descriptor();
  if (fd < 0 || !statm_still_open(fd)) {
    g_statm.lost.store(true, std::memory_order_relaxed);
    return 0;
  }
  char buf[128];
  ssize_t n = retry([&] { return ::pread(fd, buf, sizeof buf - 1, 0); });
  if (n <= 0) {
    return 0;
  }
  buf[n] = '\0';
  // statm: size resident shared ...; parse the second field by hand (no stdio, no locale).
  const char* p = buf;
  while (*p != '\0' && *p != ' ') {
    ++p;
  }
  std::uint64_t pages = 0;
  for (++p; *p >= '0' && *p <= '9'; ++p) {
    pages = pages * 10 + static_cast<std::uint64_t>(*p - '0');
  }
  return pages * page_size();
}

namespace {

struct VisitContext {
  void (*visit)(const ModuleView&, void*);
  void* context;
};

constexpr std::size_t max_segments = 16;

const unsigned char* find_build_id(const dl_phdr_info* info, std::size_t* size) noexcept {
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_NOTE) {
      continue;
    }
    auto* p = reinterpret_cast<const unsigned char*>(info->dlpi_addr + ph.p_vaddr);
    const unsigned char* end = p + ph.p_memsz;
    while (p + sizeof(ElfW(Nhdr)) <= end) {
      auto* note = reinterpret_cast<const ElfW(Nhdr)*>(p);
      const unsigned char* name = p + sizeof(ElfW(Nhdr));
      const unsigned char* desc = name + ((note->n_namesz + 3U) & ~3U);
      const unsigned char* next = desc + ((note->n_descsz + 3U) & ~3U);
      if (next > end) {
        break;
      }
      if (note->n_type == NT_GNU_BUILD_ID && note->n_namesz == 4 && ::memcmp(name, "GNU", 4) == 0) {
        *size = note->n_descsz;
        return desc;
      }
      p = next;
    }
  }
  *size = 0;
  return nullptr;
}

int visit_phdr(dl_phdr_info* info, std::size_t, void* data) noexcept {
  auto* ctx = static_cast<VisitContext*>(data);
  Segment segments[max_segments];
  std::size_t count = 0;
  bool eh_frame = false;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type == PT_LOAD && count < max_segments) {
      segments[count++] = Segment{ph.p_vaddr, ph.p_memsz, ph.p_offset, ph.p_flags};
    } else if (ph.p_type == PT_GNU_EH_FRAME) {
      eh_frame = true;
    }
  }
  if (count == 0) {
    return 0;
  }
  ModuleView view{};
  view.path = info->dlpi_name != nullptr ? info->dlpi_name : "";
  view.load_bias = info->dlpi_addr;
  view.build_id = find_build_id(info, &view.build_id_size);
  view.segments = segments;
  view.segment_count = count;
  view.has_eh_frame_hdr = eh_frame;
  ctx->visit(view, ctx->context);
  return 0;
}

}  // namespace

void for_each_module(void (*visit)(const ModuleView&, void*), void* context) noexcept {
  VisitContext ctx{visit, context};
  ::dl_iterate_phdr(visit_phdr, &ctx);
}

bool same_module(const void* a, const void* b) noexcept {
  Dl_info x{};
  Dl_info y{};
  return ::dladdr(a, &x) != 0 && ::dladdr(b, &y) != 0 && x.dli_fbase == y.dli_fbase;
}

int find_unwind_tables(std::uintptr_t address, std::uintptr_t* eh_frame_hdr) noexcept {
  // _dl_find_object (glibc 2.35) is the loader's lock-free lookup made for unwinders.
  if (&::_dl_find_object == nullptr) {
    return -1;
  }
  dl_find_object found{};
  if (::_dl_find_object(reinterpret_cast<void*>(address), &found) != 0) {
    return 0;
  }
  *eh_frame_hdr = reinterpret_cast<std::uintptr_t>(found.dlfo_eh_frame);
  return 1;
}

bool in_glibc(const void* function) noexcept {
  std::uintptr_t begin = 0;
  std::uintptr_t end = 0;
  auto address = reinterpret_cast<std::uintptr_t>(function);
  return function != nullptr &&
         module_text_range(reinterpret_cast<const void*>(&::gnu_get_libc_version), &begin, &end) && address >= begin &&
         address < end;
}

bool module_text_range(const void* address, std::uintptr_t* begin, std::uintptr_t* end) noexcept {
  Dl_info info{};
  link_map* map = nullptr;
  if (::dladdr1(address, &info, reinterpret_cast<void**>(&map), RTLD_DL_LINKMAP) == 0 || map == nullptr) {
    return false;
  }
  auto* ehdr = static_cast<const ElfW(Ehdr)*>(info.dli_fbase);
  auto* phdr = reinterpret_cast<const ElfW(Phdr)*>(static_cast<const char*>(info.dli_fbase) + ehdr->e_phoff);
  std::uintptr_t lo = ~std::uintptr_t{0};
  std::uintptr_t hi = 0;
  for (int i = 0; i < ehdr->e_phnum; ++i) {
    if (phdr[i].p_type == PT_LOAD && (phdr[i].p_flags & PF_X) != 0) {
      std::uintptr_t b = map->l_addr + phdr[i].p_vaddr;
      lo = b < lo ? b : lo;
      hi = b + phdr[i].p_memsz > hi ? b + phdr[i].p_memsz : hi;
    }
  }
  if (hi == 0) {
    return false;
  }
  *begin = lo;
  *end = hi;
  return true;
}

namespace {

// The link map of the module whose symbol `address` is, when that symbol is only a reference:
// a non-PIE executable that takes a function's address gets an undefined symbol with the
// address of a canonical PLT entry, and dlsym answers with it although calls reach the
// definition in a later module.
link_map* reference_only(void* address) noexcept {
  Dl_info info{};
  const ElfW(Sym)* symbol = nullptr;
  if (address == nullptr ||
      ::dladdr1(address, &info, const_cast<void**>(reinterpret_cast<const void**>(&symbol)), RTLD_DL_SYMENT) == 0 ||
      symbol == nullptr || symbol->st_shndx != SHN_UNDEF) {
    return nullptr;
  }
  link_map* map = nullptr;
  ::dladdr1(address, &info, reinterpret_cast<void**>(&map), RTLD_DL_LINKMAP);
  return map;
}

}  // namespace

void* find_symbol(const char* name, bool next) noexcept {
  void* found = ::dlsym(next ? RTLD_NEXT : RTLD_DEFAULT, name);
  if (found == nullptr) {
    // The failed lookup left an error message (and its record) in the thread's loader state,
    // which the program's next dlopen or dlsym would free, unmatched: dlerror() twice hands
    // both back now, from within the toolkit, where the allocator's calls pass unrecorded.
    ::dlerror();
    ::dlerror();
  }
  link_map* reference = next ? nullptr : reference_only(found);
  if (reference == nullptr) {
    return found;
  }
  // The modules after it in load order, as the loader searches them. Their symbol tables are
  // read directly: dlsym with a module's handle needs search lists the loader builds only
  // for modules opened by dlopen.
  for (link_map* map = reference->l_next; map != nullptr; map = map->l_next) {
    if (void* defined = module_function(map, name)) {
      return defined;
    }
  }
  return found;
}

bool c_library_started() noexcept {
  // glibc sets __libc_single_threaded in its early initialization and the environment in
  // __libc_init_first; the loader's own allocations come before both. A program that clears
  // its environment is still single-threaded until it starts a thread.
  return environ != nullptr || __libc_single_threaded != 0;
}

void close_inherited_files() noexcept {
  int fd = g_statm.fd.load(std::memory_order_acquire);
  if (fd >= 0 && g_statm.owner.load(std::memory_order_acquire) != process_id()) {
    close_parents_statm(fd);
  }
}

bool at_fork(void (*prepare)(), void (*parent)(), void (*child)()) noexcept {
  return ::pthread_atfork(prepare, parent, child) == 0;
}

bool at_exit(void (*fn)()) noexcept {
  // Not ::atexit: in a shared library that ties the handler to the library, and the loader's
  // finalizer (_dl_fini) then runs it when it finalizes the library, before other libraries'
  // destructors. With no library handle it runs in exit()'s own order: registered before
  // _dl_fini was (from a constructor), it runs after every other handler and finalizer.
  return ::__cxa_atexit(reinterpret_cast<void (*)(void*)>(fn), nullptr, nullptr) == 0;
}

bool at_quick_exit(void (*fn)()) noexcept {
  return ::at_quick_exit(fn) == 0;
}

bool start_thread(void* (*fn)(void*), void* arg) noexcept {
  sigset_t all;
  sigset_t previous;
  ::sigfillset(&all);
  // The new thread inherits the creating thread's mask: block everything around the creation.
  if (::pthread_sigmask(SIG_SETMASK, &all, &previous) != 0) {
    return false;
  }
  pthread_attr_t attr;
  bool ok = ::pthread_attr_init(&attr) == 0;
  ok = ok && ::pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) == 0;
  ok = ok && ::pthread_attr_setstacksize(&attr, 256 * 1024) == 0;
  pthread_t thread;
  ok = ok && ::pthread_create(&thread, &attr, fn, arg) == 0;
  ::pthread_attr_destroy(&attr);
  ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  return ok;
}

void sleep_ns(std::uint64_t ns) noexcept {
  timespec ts{static_cast<time_t>(ns / 1000000000ULL), static_cast<long>(ns % 1000000000ULL)};
  ::nanosleep(&ts, nullptr);
}

std::uint64_t file_size_limit() noexcept {
  rlimit limit{};
  if (::getrlimit(RLIMIT_FSIZE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) {
    return UINT64_MAX;
  }
  return limit.rlim_cur;
}

bool thread_exit_slot_create(unsigned* slot, void (*destroy)(void*)) noexcept {
  pthread_key_t key;
  if (::pthread_key_create(&key, destroy) != 0) {
    return false;
  }
  *slot = key;
  return true;
}

void thread_exit_slot_set(unsigned slot, void* value) noexcept {
  ::pthread_setspecific(slot, value);
}

}  // namespace measure::detail::platform
