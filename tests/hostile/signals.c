// Signals against the allocation hooks. Modes:
//   handlers  worker threads allocate while a thread that does not allocate takes SIGUSR1
//             `count` times; each handler allocates a block and frees the one before it,
//             and main frees the last one after the storm (memory from a handler, freed later)
//   storm     worker threads allocate while a 20 us timer and a sending thread interrupt them
//             (and so the hooks and the runtime) with SIGALRM and SIGUSR1, without SA_RESTART
//   sigwait   every thread blocks SIGUSR2 and one thread takes it with sigwait: a process-
//             directed signal must reach it, never a thread the program did not make
//   exit      worker threads allocate without end until a SIGTERM handler calls _exit(COUNT %
//             100) on one of them, interrupting whatever it was doing (malloc, the hooks)
// Prints what it counted; the numbers depend only on the arguments. Usage: signals MODE COUNT
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { workers = 3, worker_rounds = 20000 };

static void* volatile sink;
static atomic_int g_stop;
static atomic_long g_handled;
static void* volatile g_handler_block;

// Allocation the counts of which are known: worker_rounds blocks of each size, all freed.
static void* worker(void* arg) {
  (void)arg;
  for (int i = 0; i < worker_rounds; ++i) {
    char* p = malloc(48);  // @worker_malloc
    p[0] = (char)i;
    char* q = calloc(3, 40);  // @worker_calloc
    q = realloc(q, 240);      // @worker_realloc
    sink = q;
    free(p);
    free(q);
  }
  return NULL;
}

static void start_workers(pthread_t* threads) {
  for (int i = 0; i < workers; ++i) {
    pthread_create(&threads[i], NULL, worker, NULL);
  }
}

static void join_workers(pthread_t* threads) {
  for (int i = 0; i < workers; ++i) {
    pthread_join(threads[i], NULL);
  }
}

static void set_handler(int signal, void (*handler)(int), int flags) {
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_handler = handler;
  action.sa_flags = flags;
  sigfillset(&action.sa_mask);
  sigaction(signal, &action, NULL);
}

static void block(int signal, int how) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, signal);
  pthread_sigmask(how, &set, NULL);
}

// ---- handlers -------------------------------------------------------------------------------

static void allocating_handler(int signal) {
  (void)signal;
  int saved = errno;
  void* previous = g_handler_block;
  g_handler_block = malloc(200);  // @handler_malloc
  free(previous);
  atomic_fetch_add(&g_handled, 1);
  errno = saved;
}

// The only thread with SIGUSR1 unblocked. It allocates nothing itself, so a handler never
// interrupts an allocation (which would be undefined natively too).
static void* receiver(void* arg) {
  (void)arg;
  block(SIGUSR1, SIG_UNBLOCK);
  while (!atomic_load(&g_stop)) {
    sched_yield();
  }
  return NULL;
}

static int run_handlers(long count) {
  block(SIGUSR1, SIG_BLOCK);  // inherited by every thread made from here on
  set_handler(SIGUSR1, allocating_handler, SA_RESTART);
  pthread_t taker;
  pthread_create(&taker, NULL, receiver, NULL);
  pthread_t threads[workers];
  start_workers(threads);
  for (long i = 0; i < count; ++i) {
    pthread_kill(taker, SIGUSR1);
    while (atomic_load(&g_handled) <= i) {  // one at a time: standard signals do not queue
      sched_yield();
    }
  }
  join_workers(threads);
  atomic_store(&g_stop, 1);
  pthread_join(taker, NULL);
  free(g_handler_block);
  printf("handlers: %ld signals, each handler allocated once\n", atomic_load(&g_handled));
  return 0;
}

// ---- storm ----------------------------------------------------------------------------------

static void counting_handler(int signal) {
  (void)signal;
  int saved = errno;
  atomic_fetch_add(&g_handled, 1);
  errno = saved;
}

static pthread_t g_targets[workers];
static atomic_int g_finished;

// A worker that stays alive until the sender stops: it must never signal a thread that ended.
static void* storm_worker(void* arg) {
  worker(arg);
  atomic_fetch_add(&g_finished, 1);
  while (!atomic_load(&g_stop)) {
    sched_yield();
  }
  return NULL;
}

static void* sender(void* arg) {
  (void)arg;
  for (unsigned i = 0; !atomic_load(&g_stop); ++i) {
    pthread_kill(g_targets[i % workers], SIGUSR1);
  }
  return NULL;
}

static int run_storm(long count) {
  set_handler(SIGUSR1, counting_handler, 0);
  set_handler(SIGALRM, counting_handler, 0);
  timer_t timer;
  struct sigevent event;
  memset(&event, 0, sizeof event);
  event.sigev_notify = SIGEV_SIGNAL;
  event.sigev_signo = SIGALRM;
  if (timer_create(CLOCK_MONOTONIC, &event, &timer) != 0) {
    perror("timer_create");
    return 1;
  }
  struct itimerspec every = {{0, 20000}, {0, 20000}};
  timer_settime(timer, 0, &every, NULL);
  for (long round = 0; round < count; ++round) {
    atomic_store(&g_stop, 0);
    atomic_store(&g_finished, 0);
    for (int i = 0; i < workers; ++i) {
      pthread_create(&g_targets[i], NULL, storm_worker, NULL);
    }
    pthread_t sending;
    pthread_create(&sending, NULL, sender, NULL);
    while (atomic_load(&g_finished) < workers) {
      sched_yield();
    }
    atomic_store(&g_stop, 1);
    pthread_join(sending, NULL);
    join_workers(g_targets);
  }
  struct itimerspec off = {{0, 0}, {0, 0}};
  timer_settime(timer, 0, &off, NULL);
  timer_delete(timer);
  // Standard output is written once the storm is over: a write that a signal interrupts
  // without SA_RESTART fails with EINTR natively too.
  printf("storm: %ld rounds, interrupted %s\n", count, atomic_load(&g_handled) > 0 ? "yes" : "no");
  return 0;
}

// ---- sigwait --------------------------------------------------------------------------------

static void* waiter(void* arg) {
  long count = *(long*)arg;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR2);
  for (long i = 0; i < count; ++i) {
    int signal = 0;
    sigwait(&set, &signal);
    char* note = malloc(64);  // @waiter_malloc
    snprintf(note, 64, "signal %d", signal);
    sink = note;
    free(note);
    atomic_fetch_add(&g_handled, 1);
  }
  return NULL;
}

static int run_sigwait(long count) {
  // SIGUSR2 keeps its default action: delivered to any thread that has it unblocked, it would
  // end the process.
  block(SIGUSR2, SIG_BLOCK);
  pthread_t waiting;
  pthread_create(&waiting, NULL, waiter, &count);
  pthread_t threads[workers];
  start_workers(threads);
  for (long i = 0; i < count; ++i) {
    kill(getpid(), SIGUSR2);
    while (atomic_load(&g_handled) <= i) {
      sched_yield();
    }
  }
  join_workers(threads);
  pthread_join(waiting, NULL);
  printf("sigwait: %ld signals taken by the waiting thread\n", atomic_load(&g_handled));
  return 0;
}

// ---- exit ---------------------------------------------------------------------------------

static int g_exit_status;

static void exiting_handler(int signal) {
  (void)signal;
  _exit(g_exit_status);  // async-signal-safe, as a handler must be
}

static void* endless_worker(void* arg) {
  for (;;) {
    worker(arg);
  }
  return NULL;
}

static int run_exit(long count) {
  g_exit_status = (int)(count % 100);
  set_handler(SIGTERM, exiting_handler, 0);
  pthread_t threads[workers];
  for (int i = 0; i < workers; ++i) {
    pthread_create(&threads[i], NULL, endless_worker, NULL);
  }
  struct timespec pause = {0, 20 * 1000 * 1000};
  nanosleep(&pause, NULL);
  // To a worker, so the handler interrupts an allocation or the hooks around it.
  pthread_kill(threads[count % workers], SIGTERM);
  for (;;) {
    pause.tv_sec = 10;
    nanosleep(&pause, NULL);
  }
}

int main(int argc, char** argv) {
  long count = argc > 2 ? atol(argv[2]) : 0;
  if (argc != 3 || count <= 0) {
    fprintf(stderr, "usage: signals handlers|storm|sigwait|exit COUNT\n");
    return 2;
  }
  if (strcmp(argv[1], "handlers") == 0) {
    return run_handlers(count);
  }
  if (strcmp(argv[1], "storm") == 0) {
    return run_storm(count);
  }
  if (strcmp(argv[1], "sigwait") == 0) {
    return run_sigwait(count);
  }
  if (strcmp(argv[1], "exit") == 0) {
    return run_exit(count);
  }
  fprintf(stderr, "signals: unknown mode %s\n", argv[1]);
  return 2;
}
