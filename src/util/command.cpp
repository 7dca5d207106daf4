#include "util/command.hpp"

#include <cerrno>
#include <sys/stat.h>
#include <cstdlib>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/signals.hpp"
#include "util/strings.hpp"

extern char** environ;

namespace bm {

std::string CommandResult::describe(std::chrono::seconds timeout) const {
  if (timed_out) {
    return fmt::format("did not finish within {}s", timeout.count());
  }
  if (too_much_output) {
    return "printed too much";
  }
  if (term_signal > 0) {
    return fmt::format("killed by signal {}", term_signal);
  }
  return fmt::format("exit code {}", exit_code);
}

std::optional<std::string> find_executable(const std::string& word, const std::string& path_variable,
                                           const std::string& workdir) {
  auto executable = [&](const std::string& file) {
    std::string checked = file.front() != '/' && !workdir.empty() ? workdir + "/" + file : file;
    struct stat info {};
    return ::stat(checked.c_str(), &info) == 0 && S_ISREG(info.st_mode) && ::access(checked.c_str(), X_OK) == 0;
  };
  if (word.empty()) {
    return std::nullopt;
  }
  if (word.find('/') != std::string::npos) {
    return executable(word) ? std::optional<std::string>(word) : std::nullopt;
  }
  for (const auto& directory : split(path_variable, ':')) {
    std::string candidate = (directory.empty() ? std::string(".") : directory) + "/" + word;
    if (executable(candidate)) {
      return candidate;
    }
  }
  return std::nullopt;
}

std::string find_in_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  return find_executable(name, path == nullptr ? "/usr/bin:/bin" : path, "").value_or("");
}

CommandResult run_command(const std::vector<std::string>& argv, std::chrono::seconds timeout, std::size_t max_output,
                          int& spawn_error) {
  BM_ASSERT(!argv.empty());
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    throw_errno("pipe2", argv[0]);
  }
  UniqueFd read_end(fds[0]);
  UniqueFd write_end(fds[1]);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, write_end.get(), 1);
  // Its own process group (so an interrupt or a timeout ends all it started), the signal mask and
  // dispositions benchmatrix had before it blocked the interrupt signals.
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t mask = original_signal_mask();
  sigset_t defaults = interrupt_signals();
  sigaddset(&defaults, SIGCHLD);
  sigaddset(&defaults, SIGQUIT);
  posix_spawnattr_setpgroup(&attributes, 0);
  posix_spawnattr_setsigmask(&attributes, &mask);
  posix_spawnattr_setsigdefault(&attributes, &defaults);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::vector<char*> args;
  for (const auto& word : argv) {
    args.push_back(const_cast<char*>(word.c_str()));
  }
  args.push_back(nullptr);
  UniqueFd interrupts = interrupt_fd();
  pid_t pid = 0;
  spawn_error = ::posix_spawnp(&pid, args[0], &actions, &attributes, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  write_end.reset();
  CommandResult result;
  if (spawn_error != 0) {
    return result;
  }

  auto end_group = [&] {
    ::kill(-pid, SIGKILL);
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
  };
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      result.timed_out = true;
      break;
    }
    // The output and the interrupt signals in one wait: Ctrl-C during a hanging command ends it.
    pollfd entries[2] = {{read_end.get(), POLLIN, 0}, {interrupts.get(), POLLIN, 0}};
    int ready = ::poll(entries, 2, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) {
      continue;
    }
    if (ready < 0) {
      break;
    }
    if (ready == 0) {
      result.timed_out = true;
      break;
    }
    if ((entries[1].revents & POLLIN) != 0) {
      signalfd_siginfo info{};
      int signal = ::read(interrupts.get(), &info, sizeof info) == static_cast<ssize_t>(sizeof info)
                       ? static_cast<int>(info.ssi_signo)
                       : SIGINT;
      end_group();
      throw Interrupted(signal);
    }
    if ((entries[0].revents & (POLLIN | POLLHUP | POLLERR)) == 0) {
      continue;
    }
    char buffer[65536];
    ssize_t n = ::read(read_end.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      break;
    }
    result.output.append(buffer, static_cast<size_t>(n));
    if (result.output.size() > max_output) {
      result.too_much_output = true;
      break;
    }
  }
  if (result.timed_out || result.too_much_output) {
    ::kill(-pid, SIGKILL);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.term_signal = WTERMSIG(status);
  }
  return result;
}

} // namespace bm
