#include "config/discover.hpp"

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "util/fs.hpp"
#include "util/signals.hpp"
#include "util/strings.hpp"

extern char** environ;

namespace bm {

namespace {

constexpr size_t k_max_output = 16 * 1024 * 1024;

std::string scalar_text(const nlohmann::json& value) {
  if (value.is_string()) {
    return value.get<std::string>();
  }
  return value.dump();
}

} // namespace

std::vector<AxisValue> parse_discovered(const std::string& output, const SourceLocation& where) {
  std::vector<AxisValue> values;
  std::string_view trimmed = trim(output);
  if (!trimmed.empty() && trimmed.front() == '[') {
    nlohmann::json list = nlohmann::json::parse(trimmed, nullptr, false);
    if (list.is_discarded() || !list.is_array()) {
      throw UserError(where, "the discovery command printed text starting with '[' that is not a JSON array");
    }
    for (const auto& item : list) {
      AxisValue value;
      value.location = where;
      if (item.is_object()) {
        if (!item.contains("name") || item["name"].is_object() || item["name"].is_array()) {
          throw UserError(where, "the discovery command printed an object without a scalar \"name\": " +
                                     printable(item.dump(), 120));
        }
        value.name = scalar_text(item["name"]);
        for (const auto& [key, field] : item.items()) {
          if (key != "name") {
            value.fields[key] = scalar_text(field);
          }
        }
      } else if (item.is_string() || item.is_number()) {
        value.name = scalar_text(item);
      } else {
        throw UserError(where, "the discovery command printed a list element that is neither a name nor an "
                               "object with a name: " + printable(item.dump(), 120));
      }
      values.push_back(std::move(value));
    }
  } else {
    for (const auto& line : split(output, '\n')) {
      std::string_view name = trim(line);
      if (name.empty() || name.front() == '#') {
        continue;
      }
      AxisValue value;
      value.name = std::string(name);
      value.location = where;
      values.push_back(std::move(value));
    }
  }
  if (values.empty()) {
    throw UserError(where, "the discovery command printed no values");
  }
  for (const auto& value : values) {
    bool nul = value.name.find('\0') != std::string::npos ||
               std::any_of(value.fields.begin(), value.fields.end(),
                           [](const auto& field) { return field.second.find('\0') != std::string::npos; });
    if (nul) {
      throw UserError(where, "the discovery command printed a value holding a NUL byte (" + printable(value.name, 60) +
                                 "), which no program argument can carry");
    }
  }
  return values;
}

std::vector<AxisValue> discover_values(const std::vector<std::string>& argv, const SourceLocation& where,
                                       std::chrono::seconds timeout) {
  BM_ASSERT(!argv.empty());
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    throw_errno("pipe2", "discovery");
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
  int error = ::posix_spawnp(&pid, args[0], &actions, &attributes, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  write_end.reset();
  if (error != 0) {
    throw UserError(where, "cannot run the discovery command '" + join(argv, " ") + "': " + std::strerror(error));
  }

  auto end_group = [&] {
    ::kill(-pid, SIGKILL);
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
  };
  std::string output;
  bool timed_out = false;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    // The output and the interrupt signals in one wait: Ctrl-C during a hanging discovery ends it.
    pollfd entries[2] = {{read_end.get(), POLLIN, 0}, {interrupts.get(), POLLIN, 0}};
    int ready = ::poll(entries, 2, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) {
      continue;
    }
    if (ready < 0) {
      break;
    }
    if (ready == 0) {
      timed_out = true;
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
    output.append(buffer, static_cast<size_t>(n));
    if (output.size() > k_max_output) {
      end_group();
      throw UserError(where, "the discovery command printed more than 16 MiB");
    }
  }
  if (timed_out) {
    ::kill(-pid, SIGKILL);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    throw UserError(where, fmt::format("the discovery command '{}' did not finish within {}s", join(argv, " "),
                                       timeout.count()));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw UserError(where, fmt::format("the discovery command '{}' failed ({})", join(argv, " "),
                                       WIFEXITED(status) ? "exit code " + std::to_string(WEXITSTATUS(status))
                                                         : "killed by signal " + std::to_string(WTERMSIG(status))));
  }
  return parse_discovered(output, where);
}

} // namespace bm
