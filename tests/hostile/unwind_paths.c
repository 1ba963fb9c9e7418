// Allocations through every path of the runtime's stack walk, made while the program's own files
// sit on file descriptors 3 to 20. The walk must never touch them: whatever it reads or writes
// there shows up in what this program reads and writes.
//
// Paths: plain frames; a DRAP frame (an over-aligned local and a variable-length array: GCC
// realigns the stack through a register, and the frame's unwind rule is a DWARF expression); a
// signal handler on the thread's stack (the walk crosses the kernel's signal frame); a handler on
// a sigaltstack; a makecontext coroutine on a stack of its own; a frame whose unwind rule is a
// longer DWARF expression (arithmetic, stack operations and branches).
//
// For each path, three times: open descriptors 3 to 20 (odd: inputs, even: outputs), allocate
// through the path, read a line from every input and write one to every output, close them all,
// allocate again, and go on. At the end every output file is printed. The output depends only on
// the program, so it is the same natively and measured.
//
// Usage: unwind_paths DIR [--deny-probes]. --deny-probes first installs a seccomp filter that
// fails process_vm_readv with EPERM (as some container policies do): the runtime can then no
// longer ask the kernel whether memory off the thread's stack is readable.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

enum { first_fd = 3, last_fd = 20, rounds = 3, blocks_per_call = 4, line_bytes = 16 };
enum { side_stack_bytes = 256 * 1024 };

static const char* g_dir;
static const char* g_path;
static void* volatile g_sink;

#define NOINLINE __attribute__((noinline))
#define KEEP() __asm__ volatile("" ::: "memory")

NOINLINE static void* plain_alloc(size_t n) {
  void* p = malloc(n);  // @plain_malloc
  KEEP();
  return p;
}

// GCC gives this frame a dynamic realignment argument pointer (DRAP): the canonical frame
// address is read back through rbp (DW_CFA_def_cfa_expression: DW_OP_breg6 -8; DW_OP_deref).
NOINLINE static void* drap_alloc(int n) {
  char aligned[64] __attribute__((aligned(64)));
  char variable[n];
  memset(aligned, 1, sizeof aligned);
  memset(variable, 2, (size_t)n);
  void* p = malloc((size_t)(16 + aligned[0] + variable[0]));  // @drap_malloc
  KEEP();
  return p;
}

// The allocations of one visit: plain and DRAP frames, all freed.
NOINLINE static void allocate_here(void) {
  for (int i = 0; i < blocks_per_call; ++i) {
    void* p = plain_alloc((size_t)(24 + i));
    void* q = drap_alloc(8 + i);
    g_sink = p;
    free(q);
    free(p);
  }
}

// ---- the paths ----------------------------------------------------------------------------

static void handler(int signal) {
  (void)signal;
  allocate_here();
}

static void set_handler(int flags) {
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_handler = handler;
  action.sa_flags = flags;
  sigemptyset(&action.sa_mask);
  sigaction(SIGUSR1, &action, NULL);
}

static ucontext_t g_main_context;
static ucontext_t g_coroutine_context;

// A frame larger than a page between the coroutine's entry and its allocations: its caller's
// frame lies on another page of the coroutine's stack than the allocating frames.
NOINLINE static void large_frame(void) {
  char bytes[6000];
  memset(bytes, 0, sizeof bytes);
  g_sink = bytes;
  allocate_here();
  KEEP();
}

static void coroutine_body(void) {
  large_frame();
}

NOINLINE static void through_plain(void) {
  for (int i = 0; i < blocks_per_call; ++i) {
    free(plain_alloc((size_t)(40 + i)));
  }
}

NOINLINE static void through_drap(void) {
  for (int i = 0; i < blocks_per_call; ++i) {
    free(drap_alloc(16 + i));
  }
}

NOINLINE static void through_signal(void) {
  set_handler(0);
  raise(SIGUSR1);
}

NOINLINE static void through_sigaltstack(void) {
  static char* stack;
  if (stack == NULL) {
    stack = mmap(NULL, side_stack_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  }
  stack_t alt = {.ss_sp = stack, .ss_size = side_stack_bytes, .ss_flags = 0};
  sigaltstack(&alt, NULL);
  set_handler(SA_ONSTACK);
  raise(SIGUSR1);
  alt.ss_flags = SS_DISABLE;
  sigaltstack(&alt, NULL);
}

NOINLINE static void through_coroutine(void) {
  static char* stack;
  if (stack == NULL) {
    stack = mmap(NULL, side_stack_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  }
  getcontext(&g_coroutine_context);
  g_coroutine_context.uc_stack.ss_sp = stack;
  g_coroutine_context.uc_stack.ss_size = side_stack_bytes;
  g_coroutine_context.uc_link = &g_main_context;
  makecontext(&g_coroutine_context, coroutine_body, 0);
  swapcontext(&g_main_context, &g_coroutine_context);
}

// A frame whose canonical frame address is a DWARF expression that computes rsp + 32 the long
// way: DW_OP_breg7 0; DW_OP_const1u 40; DW_OP_lit8; DW_OP_minus; DW_OP_plus; DW_OP_dup;
// DW_OP_drop; DW_OP_lit0; DW_OP_bra +0 (not taken); DW_OP_skip +0. It calls `fn`.
void call_through_expression(void (*fn)(void));
__asm__(
    ".text\n"
    ".p2align 4\n"
    ".type call_through_expression, @function\n"
    "call_through_expression:\n"
    ".cfi_startproc\n"
    "  subq $24, %rsp\n"
    ".cfi_escape 0x0f, 16, 0x77, 0x00, 0x08, 0x28, 0x38, 0x1c, 0x22, 0x12, 0x13, 0x30, 0x28, 0x00, 0x00, 0x2f, 0x00, "
    "0x00\n"
    "  call *%rdi\n"
    "  addq $24, %rsp\n"
    ".cfi_def_cfa_offset 8\n"
    "  ret\n"
    ".cfi_endproc\n"
    ".size call_through_expression, .-call_through_expression\n");

NOINLINE static void expression_callee(void) {
  for (int i = 0; i < blocks_per_call; ++i) {
    free(plain_alloc((size_t)(60 + i)));
  }
}

NOINLINE static void through_expression(void) {
  call_through_expression(expression_callee);
}

struct Path {
  const char* name;
  void (*run)(void);
};

static const struct Path g_paths[] = {
    {"plain", through_plain},         {"drap", through_drap},
    {"signal", through_signal},       {"sigaltstack", through_sigaltstack},
    {"coroutine", through_coroutine}, {"expression", through_expression},
};

// ---- the program's files ------------------------------------------------------------------

static void file_name(char* out, size_t size, const char* kind, int fd) {
  snprintf(out, size, "%s/%s.%s.%d", g_dir, kind, g_path, fd);
}

// Opens descriptors 3 to 20 in order; says so when open() returns another number.
static void open_all(void) {
  char name[4096];
  for (int fd = first_fd; fd <= last_fd; ++fd) {
    int got = -1;
    if (fd % 2 == 1) {
      file_name(name, sizeof name, "in", fd);
      got = open(name, O_RDONLY);
    } else {
      file_name(name, sizeof name, "out", fd);
      got = open(name, O_WRONLY | O_CREAT | O_APPEND, 0644);
    }
    if (got != fd) {
      printf("%s: open returned %d for descriptor %d\n", g_path, got, fd);
    }
  }
}

static void close_all(void) {
  for (int fd = first_fd; fd <= last_fd; ++fd) {
    close(fd);
  }
}

// Each input holds `rounds` lines of line_bytes; each round reads the next one.
static void create_inputs(void) {
  char name[4096];
  for (int fd = first_fd; fd <= last_fd; fd += 2) {
    file_name(name, sizeof name, "in", fd);
    FILE* f = fopen(name, "w");
    for (int round = 0; round < rounds; ++round) {
      fprintf(f, "in%02d round %d...\n", fd, round);
    }
    fclose(f);
  }
}

static void read_and_write(int round) {
  for (int fd = first_fd; fd <= last_fd; ++fd) {
    char line[line_bytes + 1] = {0};
    if (fd % 2 == 1) {
      ssize_t n = read(fd, line, line_bytes);
      printf("%s round %d fd %d read %zd: %.*s", g_path, round, fd, n, n > 0 ? (int)n : 0, line);
      if (n <= 0 || line[n - 1] != '\n') {
        printf("\n");
      }
    } else {
      int n = snprintf(line, sizeof line, "out%02d round %d.\n", fd, round);
      if (write(fd, line, (size_t)n) != n) {
        printf("%s round %d fd %d: short write\n", g_path, round, fd);
      }
    }
  }
}

static void print_outputs(void) {
  char name[4096];
  for (int fd = first_fd + 1; fd <= last_fd; fd += 2) {
    file_name(name, sizeof name, "out", fd);
    FILE* f = fopen(name, "r");
    char text[4096];
    size_t n = f != NULL ? fread(text, 1, sizeof text, f) : 0;
    if (f != NULL) {
      fclose(f);
    }
    printf("%s: %zu bytes\n%.*s", name + strlen(g_dir) + 1, n, (int)n, text);
  }
}

// One path, with the program's files open, closed and reopened around its allocations.
static void run_path(const struct Path* path) {
  g_path = path->name;
  create_inputs();
  // Input offsets live in the open file descriptions: reopening starts at the beginning, so
  // each round skips the lines of the rounds before.
  for (int round = 0; round < rounds; ++round) {
    open_all();
    for (int fd = first_fd; fd <= last_fd; fd += 2) {
      lseek(fd, (off_t)round * line_bytes, SEEK_SET);
    }
    path->run();
    read_and_write(round);
    close_all();
    path->run();  // with descriptors 3 to 20 closed
  }
  fflush(stdout);
}

static void deny_probes(void) {
  struct sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_process_vm_readv, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog program = {sizeof filter / sizeof filter[0], filter};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0) {
    perror("seccomp");
    exit(2);
  }
}

int main(int argc, char** argv) {
  if (argc != 2 && !(argc == 3 && strcmp(argv[2], "--deny-probes") == 0)) {
    fprintf(stderr, "usage: unwind_paths DIR [--deny-probes]\n");
    return 2;
  }
  if (argc == 3) {
    deny_probes();
  }
  g_dir = argv[1];
  // What the program finds free at its start: a runtime that keeps descriptors of its own
  // takes the lowest numbers.
  int first = open("/dev/null", O_RDONLY);
  printf("first free descriptor: %d\n", first);
  close(first);
  close_all();  // whatever the program inherited there, as a program that manages its descriptors does
  for (size_t i = 0; i < sizeof g_paths / sizeof g_paths[0]; ++i) {
    run_path(&g_paths[i]);
  }
  for (size_t i = 0; i < sizeof g_paths / sizeof g_paths[0]; ++i) {
    g_path = g_paths[i].name;
    print_outputs();
  }
  return 0;
}
