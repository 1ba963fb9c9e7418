/* Ends in the way named by argv[1] after making known allocations (five 100-byte blocks kept
 * live): return, exit, _exit, _Exit, quick_exit, threads (threads still allocating when main
 * returns), sleep (waits to be killed), clearenv (returns, having cleared its environment
 * before its first allocation). Prints one line first. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void* volatile sink;

static void* busy(void* arg) {
  (void)arg;
  for (;;) {
    void* p = malloc(64);
    sink = p;
    free(p);
  }
  return NULL;
}

static void at_quick(void) {
  sink = malloc(7); /* @exit_quick_handler */
}

int main(int argc, char** argv) {
  const char* how = argc > 1 ? argv[1] : "return";
  if (strcmp(how, "clearenv") == 0) {
    clearenv();
  }
  for (int i = 0; i < 5; ++i) {
    sink = malloc(100); /* @exit_kept */
  }
  printf("ending with %s\n", how);
  fflush(stdout);
  if (strcmp(how, "exit") == 0) {
    exit(3);
  } else if (strcmp(how, "_exit") == 0) {
    _exit(4);
  } else if (strcmp(how, "_Exit") == 0) {
    _Exit(5);
  } else if (strcmp(how, "quick_exit") == 0) {
    at_quick_exit(at_quick);
    quick_exit(6);
  } else if (strcmp(how, "threads") == 0) {
    for (int i = 0; i < 4; ++i) {
      pthread_t t;
      pthread_create(&t, NULL, busy, NULL);
    }
    usleep(20000);
    return 7;
  } else if (strcmp(how, "sleep") == 0) {
    for (;;) {
      sleep(1);
    }
  }
  return 0;
}
