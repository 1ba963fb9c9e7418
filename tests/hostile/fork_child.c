/* Forks while another thread allocates as fast as it can (so the runtime's locks are often
 * held at the moment of fork), several times. Each child allocates at known sites, frees one
 * block it inherited, and exits; the parent waits for each. Prints the same lines natively and
 * under measure run. Usage: fork_child ROUNDS */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <sys/wait.h>

void* volatile sink;
static atomic_int stop;

static void* churn(void* arg) {
  (void)arg;
  while (!atomic_load(&stop)) {
    void* p = malloc(48);
    sink = p;
    free(p);
  }
  return NULL;
}

static void child_work(void* inherited) {
  void* kept[3];
  for (int i = 0; i < 3; ++i) {
    kept[i] = malloc(100); /* @child_alloc */
  }
  free(kept[0]);
  free(inherited); /* a block of the parent's */
  sink = kept[1];
  exit(0);
}

int main(int argc, char** argv) {
  int rounds = argc > 1 ? atoi(argv[1]) : 5;
  pthread_t thread;
  pthread_create(&thread, NULL, churn, NULL);
  void* before = malloc(64); /* @parent_before */
  int failures = 0;
  for (int r = 0; r < rounds; ++r) {
    void* inherited = malloc(32); /* @parent_inherited */
    pid_t pid = fork();
    if (pid == 0) {
      child_work(inherited);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    failures += !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    free(inherited);
  }
  atomic_store(&stop, 1);
  pthread_join(thread, NULL);
  free(before);
  printf("forked %d children, %d failed\n", rounds, failures);
  return failures;
}
