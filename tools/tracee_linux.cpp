// Linux (x86-64) implementation of process.h's Tracee: ptrace stops the threads of a running
// process, and a function of the process is called on one of them the way a debugger calls
// one: its registers saved, a call frame built below its stack's red zone with a return
// address of 0, and the fault at that address taken as the return. The thread's registers
// (general, floating point and vector) are put back exactly, so the system call it was
// waiting in restarts as if it had never stopped.
#include <elf.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>

#include "support/error.h"
#include "tools/dump_request.h"
#include "tools/process.h"

namespace measure::tools {
namespace {

namespace fs = std::filesystem;

// System calls a thread may wait in while it holds a lock of the C library's allocator or
// loader (or waits for one): a thread stopped there must not run the loader.
bool may_hold_allocator_lock(long call) {
  constexpr std::array<long, 7> calls = {
      9 /*mmap*/, 10 /*mprotect*/, 11 /*munmap*/, 12 /*brk*/, 25 /*mremap*/, 28 /*madvise*/, 202 /*futex*/};
  return std::find(calls.begin(), calls.end(), call) != calls.end();
}

std::vector<int> thread_ids(int pid) {
  std::vector<int> tids;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(fmt::format("/proc/{}/task", pid), ec)) {
    tids.push_back(std::atoi(entry.path().filename().c_str()));
  }
  std::sort(tids.begin(), tids.end());
  return tids;
}

std::string yama_hint() {
  std::ifstream in("/proc/sys/kernel/yama/ptrace_scope");
  int scope = -1;
  if (!(in >> scope) || scope == 0) {
    return "";
  }
  return scope == 1 ? " (kernel.yama.ptrace_scope is 1: only a parent may trace its process; run as root, or set it "
                      "to 0)"
                    : fmt::format(" (kernel.yama.ptrace_scope is {}: tracing needs root)", scope);
}

// One line of /proc/PID/maps: "start-end perms offset dev inode   path", the path from the
// first '/' (a path may hold spaces).
struct Mapping {
  std::uintptr_t start = 0;
  std::uintptr_t end = 0;
  bool executable = false;
  std::uint64_t offset = 0;
  std::string path;  // empty for anonymous memory
};

std::vector<Mapping> mappings(int pid) {
  std::vector<Mapping> out;
  std::ifstream maps(fmt::format("/proc/{}/maps", pid));
  std::string line;
  while (std::getline(maps, line)) {
    Mapping m;
    char permissions[5] = {};
    unsigned long long start = 0;
    unsigned long long end = 0;
    unsigned long long offset = 0;
    if (std::sscanf(line.c_str(), "%llx-%llx %4s %llx", &start, &end, permissions, &offset) != 4) {
      continue;
    }
    m.start = start;
    m.end = end;
    m.executable = permissions[2] == 'x';
    m.offset = offset;
    if (std::size_t slash = line.find('/'); slash != std::string::npos) {
      m.path = line.substr(slash);
    }
    out.push_back(std::move(m));
  }
  return out;
}

// The text ranges of the C library and the loader in process `pid`.
std::vector<std::pair<std::uintptr_t, std::uintptr_t>> runtime_code_ranges(int pid) {
  std::vector<std::pair<std::uintptr_t, std::uintptr_t>> ranges;
  for (const Mapping& m : mappings(pid)) {
    std::string base = fs::path(m.path).filename().string();
    if (m.executable &&
        (base.rfind("libc.so", 0) == 0 || base.rfind("libc-", 0) == 0 || base.rfind("ld-linux", 0) == 0)) {
      ranges.emplace_back(m.start, m.end);
    }
  }
  return ranges;
}

}  // namespace

struct Tracee::Thread {
  int tid = 0;
  bool stopped = false;
  int pending_signal = 0;  // taken from the thread while it was stopped, delivered when it goes on
  user_regs_struct regs{};
};

Tracee::Tracee(int pid) : m_pid(pid), m_memory(-1) {
  sigset_t block;
  sigemptyset(&block);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) {
    sigaddset(&block, sig);
  }
  // A tracer that dies while a thread runs a call leaves it returning to address 0.
  ::sigprocmask(SIG_BLOCK, &block, &m_old_signals);
  try {
    seize_new_threads();
    if (m_threads.empty()) {
      throw ProcessGone(fmt::format("process {} ended", pid));
    }
    m_memory = ::open(fmt::format("/proc/{}/mem", pid).c_str(), O_RDWR | O_CLOEXEC);
    if (m_memory < 0) {
      throw Error(fmt::format("cannot open process {}'s memory: {}", pid, std::strerror(errno)));
    }
  } catch (...) {
    release();
    throw;
  }
}

Tracee::~Tracee() {
  release();
}

void Tracee::release() noexcept {
  for (Thread& t : m_threads) {
    if (!t.stopped) {
      // A running thread must be stopped to be detached.
      ::ptrace(PTRACE_INTERRUPT, t.tid, nullptr, nullptr);
      int status = 0;
      if (::waitpid(t.tid, &status, __WALL) != t.tid || !WIFSTOPPED(status)) {
        continue;
      }
      if (WSTOPSIG(status) != SIGTRAP || (status >> 16) != PTRACE_EVENT_STOP) {
        t.pending_signal = WSTOPSIG(status);
      }
    }
    ::ptrace(PTRACE_DETACH, t.tid, nullptr, reinterpret_cast<void*>(static_cast<long>(t.pending_signal)));
  }
  m_threads.clear();
  deliver_late_signals();
  if (m_memory >= 0) {
    ::close(m_memory);
    m_memory = -1;
  }
  ::sigprocmask(SIG_SETMASK, &m_old_signals, nullptr);
}

void Tracee::seize_new_threads() {
  for (int tid : thread_ids(m_pid)) {
    if (std::any_of(m_threads.begin(), m_threads.end(), [&](const Thread& t) { return t.tid == tid; })) {
      continue;
    }
    if (::ptrace(PTRACE_SEIZE, tid, nullptr, nullptr) != 0) {
      if (errno == ESRCH) {
        continue;  // it ended
      }
      if (errno == EPERM) {
        throw UsageError(fmt::format("cannot trace process {}: permission denied{}", m_pid, yama_hint()));
      }
      throw UsageError(fmt::format("cannot trace process {}: {}", m_pid, std::strerror(errno)));
    }
    m_threads.push_back(Thread{tid});
  }
}

// Waits for thread `t`'s next stop; false when it ended.
bool Tracee::wait_stop(Thread& t) {
  for (;;) {
    int status = 0;
    if (::waitpid(t.tid, &status, __WALL) != t.tid) {
      if (errno == EINTR) {
        continue;
      }
      return false;
    }
    if (WIFEXITED(status) || WIFSIGNALED(status)) {
      return false;
    }
    if (!WIFSTOPPED(status)) {
      continue;
    }
    t.stopped = true;
    int sig = WSTOPSIG(status);
    if (sig != SIGTRAP || (status >> 16) != PTRACE_EVENT_STOP) {
      t.pending_signal = sig;  // a signal-delivery stop: the signal is the program's
    }
    ::ptrace(PTRACE_GETREGS, t.tid, nullptr, &t.regs);
    return true;
  }
}

void Tracee::stop_all() {
  for (;;) {
    seize_new_threads();
    for (Thread& t : m_threads) {
      if (!t.stopped) {
        ::ptrace(PTRACE_INTERRUPT, t.tid, nullptr, nullptr);
      }
    }
    for (auto it = m_threads.begin(); it != m_threads.end();) {
      if (!it->stopped && !wait_stop(*it)) {
        it = m_threads.erase(it);
      } else {
        ++it;
      }
    }
    if (m_threads.empty()) {
      throw ProcessGone(fmt::format("process {} ended", m_pid));
    }
    // With every listed thread stopped no new one can start: the list is whole when it
    // holds no thread it did not hold before.
    std::size_t known = m_threads.size();
    seize_new_threads();
    if (m_threads.size() == known) {
      return;
    }
  }
}

void Tracee::resume(int except) {
  for (Thread& t : m_threads) {
    if (t.stopped && t.tid != except) {
      ::ptrace(PTRACE_CONT, t.tid, nullptr, reinterpret_cast<void*>(static_cast<long>(t.pending_signal)));
      t.pending_signal = 0;
      t.stopped = false;
    }
  }
}

bool Tracee::all_waiting() const {
  return std::all_of(m_threads.begin(), m_threads.end(),
                     [](const Thread& t) { return static_cast<long>(t.regs.orig_rax) >= 0; });
}

int Tracee::safe_thread() const {
  auto ranges = runtime_code_ranges(m_pid);
  int best = 0;
  for (const Thread& t : m_threads) {
    auto call = static_cast<long>(t.regs.orig_rax);
    bool in_library = std::any_of(ranges.begin(), ranges.end(),
                                  [&](const auto& r) { return t.regs.rip >= r.first && t.regs.rip < r.second; });
    bool safe = call >= 0 ? !may_hold_allocator_lock(call) : !in_library;
    if (safe && (best == 0 || t.tid == m_pid)) {
      best = t.tid;  // the main thread when it qualifies
    }
  }
  return best;
}

int Tracee::main_thread() const {
  for (const Thread& t : m_threads) {
    if (t.tid == m_pid) {
      return t.tid;
    }
  }
  return m_threads.empty() ? 0 : m_threads.front().tid;
}

Tracee::Thread& Tracee::thread(int tid) {
  auto it = std::find_if(m_threads.begin(), m_threads.end(), [&](const Thread& t) { return t.tid == tid; });
  if (it == m_threads.end() || !it->stopped) {
    throw Error(fmt::format("thread {} of process {} is not stopped", tid, m_pid));
  }
  return *it;
}

std::uint64_t Tracee::call(int tid, std::uintptr_t function, const std::vector<Argument>& arguments) {
#if defined(__x86_64__)
  Thread& t = thread(tid);
  user_regs_struct saved = t.regs;
  alignas(64) static thread_local std::array<unsigned char, 16384> xstate;
  iovec vector_state{xstate.data(), xstate.size()};
  bool have_vector_state = ::ptrace(PTRACE_GETREGSET, tid, NT_X86_XSTATE, &vector_state) == 0;
  user_fpregs_struct fpregs{};
  bool have_fpregs = !have_vector_state && ::ptrace(PTRACE_GETFPREGS, tid, nullptr, &fpregs) == 0;

  user_regs_struct regs = saved;
  std::uint64_t sp = saved.rsp - 512;  // below the red zone, and some
  std::array<std::uint64_t, 6> values{};
  if (arguments.size() > values.size()) {
    throw Error("a call takes at most six arguments");
  }
  for (std::size_t i = 0; i < arguments.size(); ++i) {
    if (arguments[i].text) {
      const std::string& text = *arguments[i].text;
      sp = (sp - text.size() - 1) & ~std::uint64_t{15};
      write_memory(sp, text.c_str(), text.size() + 1);
      values[i] = sp;
    } else {
      values[i] = arguments[i].value;
    }
  }
  sp &= ~std::uint64_t{15};
  sp -= 8;
  std::uint64_t return_address = 0;
  write_memory(sp, &return_address, sizeof return_address);
  regs.rsp = sp;
  regs.rip = function;
  regs.rdi = values[0];
  regs.rsi = values[1];
  regs.rdx = values[2];
  regs.rcx = values[3];
  regs.r8 = values[4];
  regs.r9 = values[5];
  regs.rax = 0;
  regs.orig_rax = static_cast<unsigned long long>(-1);  // no system call to restart on the way
  auto restore = [&] {
    ::ptrace(PTRACE_SETREGS, tid, nullptr, &saved);
    if (have_vector_state) {
      ::ptrace(PTRACE_SETREGSET, tid, NT_X86_XSTATE, &vector_state);
    } else if (have_fpregs) {
      ::ptrace(PTRACE_SETFPREGS, tid, nullptr, &fpregs);
    }
    t.regs = saved;
  };
  if (::ptrace(PTRACE_SETREGS, tid, nullptr, &regs) != 0 || ::ptrace(PTRACE_CONT, tid, nullptr, nullptr) != 0) {
    restore();
    throw Error(fmt::format("cannot run a call in process {}: {}", m_pid, std::strerror(errno)));
  }
  t.stopped = false;
  for (;;) {
    int status = 0;
    if (::waitpid(tid, &status, __WALL) != tid) {
      if (errno == EINTR) {
        continue;
      }
      throw ProcessGone(fmt::format("process {} ended", m_pid));
    }
    if (WIFEXITED(status) || WIFSIGNALED(status)) {
      throw ProcessGone(fmt::format("process {} ended", m_pid));
    }
    if (!WIFSTOPPED(status)) {
      continue;
    }
    int sig = WSTOPSIG(status);
    bool event_stop = sig == SIGTRAP && (status >> 16) == PTRACE_EVENT_STOP;
    if (sig == SIGSEGV) {
      user_regs_struct after{};
      ::ptrace(PTRACE_GETREGS, tid, nullptr, &after);
      t.stopped = true;
      if (after.rip == 0) {
        restore();
        return after.rax;
      }
      restore();
      throw Error(fmt::format("a call in process {} faulted at {:#x}; the process goes on as it was", m_pid,
                              static_cast<std::uint64_t>(after.rip)));
    }
    if (!event_stop) {
      // The program's own signal, during the call: it is delivered once the thread goes on.
      t.pending_signal = t.pending_signal == 0 ? sig : t.pending_signal;
      if (t.pending_signal != sig) {
        m_late_signals.emplace_back(tid, sig);
      }
    }
    ::ptrace(PTRACE_CONT, tid, nullptr, nullptr);
  }
#else
  (void)tid;
  (void)function;
  (void)arguments;
  throw UsageError("measure attach supports x86-64 only");
#endif
}

void Tracee::write_memory(std::uint64_t address, const void* data, std::size_t size) {
  if (::pwrite(m_memory, data, size, static_cast<off_t>(address)) != static_cast<ssize_t>(size)) {
    throw Error(fmt::format("cannot write process {}'s memory: {}", m_pid, std::strerror(errno)));
  }
}

std::string Tracee::read_string(std::uint64_t address, std::size_t limit) {
  std::string text(limit, '\0');
  ssize_t got = ::pread(m_memory, text.data(), limit, static_cast<off_t>(address));
  text.resize(got > 0 ? static_cast<std::size_t>(got) : 0);
  text.resize(std::min(text.size(), text.find('\0')));
  return text;
}

void Tracee::deliver_late_signals() noexcept {
  for (auto [tid, sig] : m_late_signals) {
    ::syscall(SYS_tgkill, m_pid, tid, sig);
  }
  m_late_signals.clear();
}

std::uintptr_t remote_function(int pid, const std::function<bool(const std::string&)>& module,
                               const std::string& name) {
  for (const Mapping& m : mappings(pid)) {
    if (m.path.empty() || m.offset != 0 || !module(m.path)) {
      continue;
    }
    const std::string& path = m.path;
    std::ifstream file(path, std::ios::binary);
    std::string image((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    if (image.size() < sizeof(Elf64_Ehdr) || image.compare(0, 4, ELFMAG) != 0) {
      continue;
    }
    Elf64_Ehdr header{};
    std::memcpy(&header, image.data(), sizeof header);
    auto at = [&](std::uint64_t offset_in_file, std::size_t size) {
      if (offset_in_file > image.size() || size > image.size() - offset_in_file) {
        throw Error(fmt::format("{}: a malformed ELF file", path));
      }
      return image.data() + offset_in_file;
    };
    std::uint64_t first_load = UINT64_MAX;
    for (unsigned i = 0; i < header.e_phnum; ++i) {
      Elf64_Phdr ph{};
      std::memcpy(&ph, at(header.e_phoff + i * std::uint64_t{header.e_phentsize}, sizeof ph), sizeof ph);
      if (ph.p_type == PT_LOAD) {
        first_load = std::min<std::uint64_t>(first_load, ph.p_vaddr & ~std::uint64_t{0xfff});
      }
    }
    std::uintptr_t bias = m.start - first_load;
    for (unsigned i = 0; i < header.e_shnum; ++i) {
      Elf64_Shdr symbols{};
      std::memcpy(&symbols, at(header.e_shoff + i * std::uint64_t{header.e_shentsize}, sizeof symbols), sizeof symbols);
      if (symbols.sh_type != SHT_DYNSYM || symbols.sh_link >= header.e_shnum) {
        continue;
      }
      Elf64_Shdr strings{};
      std::memcpy(&strings, at(header.e_shoff + symbols.sh_link * std::uint64_t{header.e_shentsize}, sizeof strings),
                  sizeof strings);
      const char* names = at(strings.sh_offset, strings.sh_size);
      for (std::uint64_t k = 0; k + 1 <= symbols.sh_size / sizeof(Elf64_Sym); ++k) {
        Elf64_Sym sym{};
        std::memcpy(&sym, at(symbols.sh_offset + k * sizeof(Elf64_Sym), sizeof sym), sizeof sym);
        if (sym.st_shndx != SHN_UNDEF && ELF64_ST_TYPE(sym.st_info) == STT_FUNC && sym.st_name < strings.sh_size &&
            name == names + sym.st_name) {
          return bias + sym.st_value;
        }
      }
    }
  }
  return 0;
}

}  // namespace measure::tools
