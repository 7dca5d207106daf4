/* The physical limit of starting and reaping processes here: posix_spawn N copies of a command,
   at most J at once, reaping each with waitpid. No output handling, no bookkeeping. Written for
   bench/run.sh only. Usage: launcher N J COMMAND [ARGS...] */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

extern char** environ;

int main(int argc, char** argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: launcher N J COMMAND [ARGS...]\n");
    return 2;
  }
  long total = atol(argv[1]);
  long jobs = atol(argv[2]);
  long started = 0;
  long running = 0;
  int failed = 0;
  while (started < total || running > 0) {
    while (started < total && running < jobs) {
      pid_t pid;
      if (posix_spawn(&pid, argv[3], NULL, NULL, argv + 3, environ) != 0) {
        perror("posix_spawn");
        return 1;
      }
      ++started;
      ++running;
    }
    int status;
    if (wait(&status) > 0) {
      --running;
      failed |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    }
  }
  return failed;
}
