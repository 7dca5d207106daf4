/* benchmatrix's launcher: the small program between benchmatrix and every process it starts.
 *
 * Linux gives a process started vfork-style a peak resident set size (ru_maxrss) of at least the
 * address space it was started from: exec records the old address space's peak, and a vfork
 * child's old address space is its parent's. Started straight from benchmatrix, every run's
 * max_rss would read at least benchmatrix's own peak (megabytes, more with a large plan loaded).
 * So benchmatrix starts this launcher, already pinned, in its process group and cgroups, with its
 * output and working directory set; the launcher forks the program from its own address space of
 * a few pages, waits for it, and reports over descriptor 3 how it ended, with its usage and its
 * exec and end times (CLOCK_MONOTONIC, read right before its execve and right after wait4), then
 * exits with the same code.
 *
 * It is freestanding (no C library, system calls made directly) on x86-64 and AArch64: starting
 * it then costs about a third of what a static glibc program costs, and it is paid once per
 * process. Elsewhere it is built against the C library, through syscall().
 *
 * Usage: launcher PROGRAM ARGV0 [ARGS...], with descriptor 3 open for the report. Every signal
 * stays blocked in the launcher while it waits (a SIGTERM sent to the group ends the program and
 * the report still comes; SIGKILL ends both and benchmatrix falls back to what wait4 says of the
 * launcher); the program gets the signal mask the launcher was started with. */
#include <asm/unistd.h>
#include <stddef.h>
#include <stdint.h>

#include "launch_report.h"

#define K_SIGCHLD 17
#define K_F_SETFD 2
#define K_FD_CLOEXEC 1
#define K_O_CLOEXEC 02000000
#define K_PR_SET_NAME 15
#define K_SIG_SETMASK 2
#define K_CLOCK_MONOTONIC 1
#define K_EINTR 4

struct k_timespec {
  long tv_sec;
  long tv_nsec;
};
struct k_timeval {
  long tv_sec;
  long tv_usec;
};
struct k_rusage {
  struct k_timeval utime;
  struct k_timeval stime;
  long fields[14]; /* maxrss first */
};

#if defined(__x86_64__) || defined(__aarch64__)
#define BM_FREESTANDING 1
static long sys6(long n, long a, long b, long c, long d, long e, long f) {
#if defined(__x86_64__)
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  register long r9 __asm__("r9") = f;
  long ret;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  return ret;
#else
  register long x8 __asm__("x8") = n;
  register long x0 __asm__("x0") = a;
  register long x1 __asm__("x1") = b;
  register long x2 __asm__("x2") = c;
  register long x3 __asm__("x3") = d;
  register long x4 __asm__("x4") = e;
  register long x5 __asm__("x5") = f;
  __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5) : "memory");
  return x0;
#endif
}

/* What a compiler may call for struct copies and zeroing. */
void* memset(void* to, int value, size_t size) {
  unsigned char* bytes = to;
  while (size-- > 0) {
    *bytes++ = (unsigned char)value;
  }
  return to;
}
void* memcpy(void* to, const void* from, size_t size) {
  unsigned char* out = to;
  const unsigned char* in = from;
  while (size-- > 0) {
    *out++ = *in++;
  }
  return to;
}
#else
#include <errno.h>
#include <string.h>
#include <unistd.h>
/* The C library's syscall() returns -1 with errno set; this returns -errno, as the kernel does. */
static long sys6(long n, long a, long b, long c, long d, long e, long f) {
  long ret = syscall(n, a, b, c, d, e, f);
  return ret == -1 ? -errno : ret;
}
#endif

#define SYS(n, a, b, c) sys6((n), (long)(a), (long)(b), (long)(c), 0, 0, 0)

static void write_all(int fd, const void* data, size_t size) {
  const char* at = data;
  while (size > 0) {
    long written = SYS(__NR_write, fd, at, size);
    if (written == -K_EINTR) {
      continue;
    }
    if (written <= 0) {
      return;
    }
    at += written;
    size -= (size_t)written;
  }
}

__attribute__((noreturn)) static void leave(int code) {
  for (;;) {
    SYS(__NR_exit_group, code, 0, 0);
  }
}

static int64_t now_ns(void) {
  struct k_timespec time = {0, 0};
  SYS(__NR_clock_gettime, K_CLOCK_MONOTONIC, &time, 0);
  return (int64_t)time.tv_sec * 1000000000 + time.tv_nsec;
}

static void send_report(struct bm_launch_report* report) {
  report->magic = BM_LAUNCH_MAGIC;
  write_all(BM_LAUNCH_REPORT_FD, report, sizeof *report);
}

/* The program's side, in the forked child: its exec time (then, if exec fails, its errno) goes to
 * the launcher through a close-on-exec pipe. */
__attribute__((noreturn)) static void start_program(char** argv, char** envp, const uint64_t* mask, int pipe_out) {
  int64_t record[2] = {now_ns(), 0};
  write_all(pipe_out, record, sizeof record);
  /* rt_sigprocmask takes the size of the kernel's signal set as its fourth argument. */
  sys6(__NR_rt_sigprocmask, K_SIG_SETMASK, (long)mask, 0, 8, 0, 0);
  long error = SYS(__NR_execve, argv[1], argv + 2, envp);
  record[0] = -1;
  record[1] = -error;
  write_all(pipe_out, record, sizeof record);
  leave(127);
}

static int launcher_main(long argc, char** argv, char** envp) {
  if (argc < 3 || SYS(__NR_fcntl, BM_LAUNCH_REPORT_FD, K_F_SETFD, K_FD_CLOEXEC) != 0) {
    static const char usage[] = "benchmatrix launcher: started by benchmatrix only\n";
    write_all(2, usage, sizeof usage - 1);
    return 125;
  }
  SYS(__NR_prctl, K_PR_SET_NAME, "bm-launcher", 0);
  uint64_t all = ~(uint64_t)0;
  uint64_t original = 0;
  sys6(__NR_rt_sigprocmask, K_SIG_SETMASK, (long)&all, (long)&original, 8, 0, 0);

  struct bm_launch_report report;
  memset(&report, 0, sizeof report);
  int pipe_fds[2] = {-1, -1};
  long made = SYS(__NR_pipe2, pipe_fds, K_O_CLOEXEC, 0);
  long pid = made < 0 ? made : sys6(__NR_clone, K_SIGCHLD, 0, 0, 0, 0, 0);
  if (pid == 0) {
    SYS(__NR_close, pipe_fds[0], 0, 0);
    start_program(argv, envp, &original, pipe_fds[1]);
  }
  if (made == 0) {
    SYS(__NR_close, pipe_fds[1], 0, 0);
  }
  if (pid > 0) {
    /* A signal sent to the group before the fork is pending here and was not inherited: the
     * program gets it too (an interrupt or a timeout right at the start is not lost). */
    uint64_t pending = 0;
    sys6(__NR_rt_sigpending, (long)&pending, 8, 0, 0, 0, 0);
    for (int signal = 1; signal <= 64; ++signal) {
      if (signal != K_SIGCHLD && (pending >> (signal - 1) & 1) != 0) {
        SYS(__NR_kill, pid, signal, 0);
      }
    }
  }
  if (pid < 0) {
    report.kind = BM_LAUNCH_EXEC_FAILED;
    report.error = (int32_t)-pid;
    send_report(&report);
    return 127;
  }
  int status = 0;
  struct k_rusage usage;
  memset(&usage, 0, sizeof usage);
  long waited;
  while ((waited = sys6(__NR_wait4, pid, (long)&status, 0, (long)&usage, 0, 0)) == -K_EINTR) {
  }
  int64_t end = now_ns();
  if (waited != pid) {
    return 126;
  }
  int64_t records[4] = {0, 0, 0, 0};
  long got = 0;
  for (long n; got < (long)sizeof records &&
               (n = SYS(__NR_read, pipe_fds[0], (char*)records + got, sizeof records - (size_t)got)) != 0;) {
    if (n == -K_EINTR) {
      continue;
    }
    if (n < 0) {
      break;
    }
    got += n;
  }
  if (got == (long)sizeof records && records[2] == -1) {
    report.kind = BM_LAUNCH_EXEC_FAILED;
    report.error = (int32_t)records[3];
    send_report(&report);
    return 127;
  }
  report.kind = BM_LAUNCH_ENDED;
  report.status = status;
  report.exec_ns = got >= 8 ? records[0] : 0;
  report.end_ns = end;
  report.user_us = (int64_t)usage.utime.tv_sec * 1000000 + usage.utime.tv_usec;
  report.system_us = (int64_t)usage.stime.tv_sec * 1000000 + usage.stime.tv_usec;
  report.max_rss_kib = usage.fields[0];
  send_report(&report);
  int signal = status & 0x7f;
  return signal == 0 ? (status >> 8) & 0xff : 128 + signal;
}

#ifdef BM_FREESTANDING
__attribute__((used, noreturn)) void launcher_start(long* stack) {
  long argc = stack[0];
  char** argv = (char**)(stack + 1);
  leave(launcher_main(argc, argv, argv + argc + 1));
}
#if defined(__x86_64__)
__asm__(".text\n.global _start\n_start:\n  xor %rbp, %rbp\n  mov %rsp, %rdi\n  and $-16, %rsp\n  call launcher_start\n  hlt\n");
#else
__asm__(".text\n.global _start\n_start:\n  mov x29, #0\n  mov x30, #0\n  mov x0, sp\n  and sp, x0, #-16\n  bl launcher_start\n");
#endif
#else
int main(int argc, char** argv, char** envp) {
  return launcher_main(argc, argv, envp);
}
#endif
