/* Starts one program one way and passes its output through: the exec family, posix_spawn,
 * system(), popen(), fork and vfork. Before it starts the program it allocates 100 bytes
 * (kept); when the start fails and it goes on, another 200 (kept), then says so.
 *
 * Usage: start_child HOW PROGRAM [ARGS...]
 *   HOW: execve execv execvp execvpe execl execle execlp fexecve (this process becomes the
 *        program), vfork (vfork, then execv in the child), posix_spawn posix_spawnp system
 *        popen (waits for the program), fork (the child allocates and exits, PROGRAM unused)
 * execl, execle and execlp pass at most two ARGS. Exits with the program's status where it
 * waits for it, 0 after a failed exec. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/wait.h>

extern char** environ;

static void* g_kept[2];

static int wait_for(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) {
    return 126;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int exec_as(const char* how, char** argv) {
  const char* a1 = argv[1];
  const char* a2 = a1 != NULL ? argv[2] : NULL;
  if (strcmp(how, "execve") == 0) {
    return execve(argv[0], argv, environ);
  }
  if (strcmp(how, "execv") == 0) {
    return execv(argv[0], argv);
  }
  if (strcmp(how, "execvp") == 0) {
    return execvp(argv[0], argv);
  }
  if (strcmp(how, "execvpe") == 0) {
    return execvpe(argv[0], argv, environ);
  }
  if (strcmp(how, "execl") == 0) {
    return execl(argv[0], argv[0], a1, a2, (char*)NULL);
  }
  if (strcmp(how, "execle") == 0) {
    return execle(argv[0], argv[0], a1, a2, (char*)NULL, environ);
  }
  if (strcmp(how, "execlp") == 0) {
    return execlp(argv[0], argv[0], a1, a2, (char*)NULL);
  }
  if (strcmp(how, "fexecve") == 0) {
    int fd = open(argv[0], O_RDONLY | O_CLOEXEC);
    return fd < 0 ? -1 : fexecve(fd, argv, environ);
  }
  return -2;
}

static char* command_line(char** argv) {
  static char line[8192];
  line[0] = '\0';
  for (int i = 0; argv[i] != NULL; ++i) {
    strncat(line, argv[i], sizeof line - strlen(line) - 2);
    strcat(line, " ");
  }
  return line;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    return 2;
  }
  const char* how = argv[1];
  char** program = argv + 2;
  g_kept[0] = malloc(100); /* @before_start */
  fflush(stdout);
  pid_t pid = 0;
  int status = 0;
  if (strcmp(how, "fork") == 0) {
    pid = fork();
    if (pid == 0) {
      free(malloc(300));
      _exit(0);
    }
    status = wait_for(pid);
  } else if (strcmp(how, "vfork") == 0) {
    pid = vfork();
    if (pid == 0) {
      execv(program[0], program);
      _exit(127);
    }
    status = wait_for(pid);
  } else if (strcmp(how, "posix_spawn") == 0 || strcmp(how, "posix_spawnp") == 0) {
    int rc = how[11] == 'p' ? posix_spawnp(&pid, program[0], NULL, NULL, program, environ)
                            : posix_spawn(&pid, program[0], NULL, NULL, program, environ);
    status = rc == 0 ? wait_for(pid) : 127;
  } else if (strcmp(how, "system") == 0) {
    int rc = system(command_line(program));
    status = rc != -1 && WIFEXITED(rc) ? WEXITSTATUS(rc) : 126;
  } else if (strcmp(how, "popen") == 0) {
    FILE* in = popen(command_line(program), "r");
    if (in == NULL) {
      return 126;
    }
    char buffer[4096];
    size_t n;
    while ((n = fread(buffer, 1, sizeof buffer, in)) > 0) {
      fwrite(buffer, 1, n, stdout);
    }
    int rc = pclose(in);
    status = rc != -1 && WIFEXITED(rc) ? WEXITSTATUS(rc) : 126;
  } else {
    int rc = exec_as(how, program);
    if (rc == -2) {
      return 2;
    }
    g_kept[1] = malloc(200); /* @after_failed_exec */
    printf("exec failed\n");
    return 0;
  }
  return status;
}
