/* Starts children every way there is: fork+exec, vfork+exec, posix_spawn, and system().
 * Each child is `exit_with N`; prints what each returned. Usage: spawn EXIT_WITH_PATH */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/wait.h>

extern char** environ;

static int wait_for(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int main(int argc, char** argv) {
  if (argc < 2) {
    return 2;
  }
  char* child_argv[] = {argv[1], "exit", "3", NULL};
  pid_t pid = fork();
  if (pid == 0) {
    execv(argv[1], child_argv);
    _exit(127);
  }
  printf("fork+exec: %d\n", wait_for(pid));
  fflush(stdout);
  pid = vfork();
  if (pid == 0) {
    execv(argv[1], child_argv);
    _exit(127);
  }
  printf("vfork+exec: %d\n", wait_for(pid));
  fflush(stdout);
  if (posix_spawn(&pid, argv[1], NULL, NULL, child_argv, environ) == 0) {
    printf("posix_spawn: %d\n", wait_for(pid));
  }
  fflush(stdout);
  char command[4096];
  snprintf(command, sizeof command, "%s 5 >/dev/null 2>&1", argv[1]);
  int rc = system(command);
  printf("system: %d\n", WIFEXITED(rc) ? WEXITSTATUS(rc) : -1);
  return 0;
}
