#include "exec/spawn.hpp"

#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <memory>
#include <pthread.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace bm {
namespace {

constexpr std::size_t k_child_stack = 64 * 1024;

struct Child {
  const SpawnRequest* request;
  volatile int error = 0;  // written by the child, which shares our memory until it execs
  const char* volatile step = "";
  timespec exec_time{};
};

[[noreturn]] void fail(Child* child, const char* step) {
  child->error = errno;
  child->step = step;
  _exit(127);
}

// Runs in the child, on its own stack, in our memory, while we are suspended: only system calls,
// no allocation, no locks.
int child_main(void* argument) {
  auto* child = static_cast<Child*>(argument);
  const SpawnRequest& request = *child->request;
  if (request.defaults != nullptr) {
    struct sigaction action {};
    action.sa_handler = SIG_DFL;
    for (int signal = 1; signal < NSIG; ++signal) {
      if (sigismember(request.defaults, signal) == 1) {
        ::sigaction(signal, &action, nullptr);
      }
    }
  }
  if (::setpgid(0, 0) != 0) {
    fail(child, "setpgid");
  }
  if (request.cpus != nullptr && ::sched_setaffinity(0, request.cpus_size, request.cpus) != 0) {
    fail(child, "sched_setaffinity");
  }
  for (std::size_t i = 0; i < request.cgroup_count; ++i) {
    // Opened here, in the child's own descriptor table: a start costs the orchestrator none.
    int fd = ::open(request.cgroup_procs[i], O_WRONLY | O_CLOEXEC);
    if (fd < 0 || ::write(fd, "0", 1) != 1) {
      fail(child, "cgroup.procs");
    }
    ::close(fd);
  }
  for (int fd = 0; fd < 3; ++fd) {
    if (request.stdio[fd] == fd) {
      if (::fcntl(fd, F_SETFD, 0) != 0) {  // dup2 onto itself would keep close-on-exec
        fail(child, "fcntl");
      }
    } else if (::dup2(request.stdio[fd], fd) != fd) {
      fail(child, "dup2");
    }
  }
  unsigned first_closed = 3;
  if (request.launcher >= 0) {
    // The launcher gets its report pipe as 3, and itself as 4 (close-on-exec: execveat of an ELF
    // file needs it open only until the exec has read it).
    if (::dup2(request.report, 3) != 3) {
      fail(child, "dup2");
    }
    if (::dup3(request.launcher, 4, O_CLOEXEC) != 4) {
      fail(child, "dup3");
    }
    first_closed = 5;
  }
#ifdef SYS_close_range
  // Everything of ours is close-on-exec already; this also catches descriptors that a library
  // opened without it, so a benchmark never inherits anything but 0, 1 and 2.
  ::syscall(SYS_close_range, first_closed, ~0U, 0U);  // ENOSYS before Linux 5.9: close-on-exec still holds
#endif
  if (request.working_directory != nullptr && ::chdir(request.working_directory) != 0) {
    fail(child, "chdir");
  }
  if (request.mask != nullptr) {
    ::sigprocmask(SIG_SETMASK, request.mask, nullptr);
  }
  // The start of the measured run: what came before (our clone, joining cgroups, moving to its
  // CPU) is benchmatrix's cost, not the benchmark's.
  ::clock_gettime(CLOCK_MONOTONIC, &child->exec_time);
  if (request.launcher >= 0) {
    ::syscall(SYS_execveat, 4, "", request.argv, request.envp, AT_EMPTY_PATH);
    fail(child, "execveat");
  }
  ::execve(request.program, request.argv, request.envp);
  fail(child, "execve");
}

} // namespace

SpawnResult spawn_process(const SpawnRequest& request) {
  // One stack for every child of this thread: a child uses it only while we are suspended.
  thread_local std::unique_ptr<char[]> stack(new char[k_child_stack]);
  Child child{&request};
  SpawnResult result;

  // Every signal blocked across the clone, so that no handler of ours runs in the child (it
  // shares our memory); the child sets its own mask just before exec.
  sigset_t all;
  sigset_t previous;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  pid_t pid = ::clone(child_main, stack.get() + k_child_stack, CLONE_VM | CLONE_VFORK | SIGCHLD, &child);
  int clone_error = errno;
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);

  if (pid < 0) {
    result.error = clone_error;
    result.step = "clone";
    return result;
  }
  if (child.error != 0) {
    // The child failed before or at exec and has exited: reap it, report the step.
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    result.error = child.error;
    result.step = child.step;
    return result;
  }
  result.pid = pid;
  result.exec_time = child.exec_time;
  return result;
}

} // namespace bm
