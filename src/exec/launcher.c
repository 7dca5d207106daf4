/* benchmatrix's launcher: the small program between benchmatrix and every process it starts.
 *
 * Linux gives a process started vfork-style a peak resident set size (ru_maxrss) of at least the
 * address space it was started from: exec records the old address space's peak, and a vfork
 * child's old address space is its parent's. Started straight from benchmatrix, every run's
 * max_rss would read at least benchmatrix's own peak (megabytes, more with a large plan loaded).
 * So benchmatrix starts this launcher (static, a few hundred KiB resident), already pinned, in
 * its process group and cgroups, with its output and working directory set; the launcher starts
 * the program in the same way from its own small address space, waits for it, and reports over
 * descriptor 3 how it ended, with its usage and its exec and end times (CLOCK_MONOTONIC, read
 * right before its execve and right after wait4), then exits with the same code.
 *
 * Usage: launcher PROGRAM ARGV0 [ARGS...], with descriptor 3 open for the report. Every signal
 * stays blocked in the launcher while it waits (a SIGTERM sent to the group ends the program and
 * the report still comes; SIGKILL ends both and benchmatrix falls back to what wait4 says of the
 * launcher); the program gets the signal mask the launcher was started with. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "launch_report.h"

static char child_stack[16 * 1024] __attribute__((aligned(16)));

struct start {
  char* program;
  char** argv;
  char** envp;
  sigset_t mask;
  volatile int error;
  struct timespec exec_time;
};

static int64_t nanoseconds(const struct timespec* time) {
  return (int64_t)time->tv_sec * 1000000000 + time->tv_nsec;
}

static int64_t microseconds(const struct timeval* time) {
  return (int64_t)time->tv_sec * 1000000 + time->tv_usec;
}

/* The program's side: it shares our memory until its execve. */
static int child_main(void* argument) {
  struct start* start = argument;
  /* Read first: a signal pending for the group may end it as soon as its mask is restored. */
  clock_gettime(CLOCK_MONOTONIC, &start->exec_time);
  sigprocmask(SIG_SETMASK, &start->mask, NULL);
  execve(start->program, start->argv, start->envp);
  start->error = errno;
  _exit(127);
}

static void send_report(struct bm_launch_report* report) {
  report->magic = BM_LAUNCH_MAGIC;
  ssize_t written;
  do {
    written = write(BM_LAUNCH_REPORT_FD, report, sizeof *report);
  } while (written < 0 && errno == EINTR);
}

int main(int argc, char** argv, char** envp) {
  if (argc < 3 || fcntl(BM_LAUNCH_REPORT_FD, F_SETFD, FD_CLOEXEC) != 0) {
    static const char usage[] = "benchmatrix launcher: started by benchmatrix only\n";
    (void)!write(2, usage, sizeof usage - 1);
    return 125;
  }
  prctl(PR_SET_NAME, "bm-launcher", 0, 0, 0);
  struct start start = {.program = argv[1], .argv = argv + 2, .envp = envp};
  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_SETMASK, &all, &start.mask);

  struct bm_launch_report report;
  memset(&report, 0, sizeof report);
  pid_t pid = clone(child_main, child_stack + sizeof child_stack, CLONE_VM | CLONE_VFORK | SIGCHLD, &start);
  if (pid < 0 || start.error != 0) {
    report.kind = BM_LAUNCH_EXEC_FAILED;
    report.error = pid < 0 ? errno : start.error;
    if (pid > 0) {
      while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
      }
    }
    send_report(&report);
    return 127;
  }
  int status = 0;
  struct rusage usage;
  memset(&usage, 0, sizeof usage);
  while (wait4(pid, &status, 0, &usage) < 0) {
    if (errno != EINTR) {
      return 126;
    }
  }
  struct timespec end;
  clock_gettime(CLOCK_MONOTONIC, &end);
  report.kind = BM_LAUNCH_ENDED;
  report.status = status;
  report.exec_ns = nanoseconds(&start.exec_time);
  report.end_ns = nanoseconds(&end);
  report.user_us = microseconds(&usage.ru_utime);
  report.system_us = microseconds(&usage.ru_stime);
  report.max_rss_kib = usage.ru_maxrss;
  send_report(&report);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
