#include "report/live_display.hpp"

#include <algorithm>
#include <atomic>
#include <csignal>
#include <sys/ioctl.h>
#include <unistd.h>

#include <fmt/format.h>

#include "resources/topology.hpp"
#include "util/console.hpp"
#include "util/strings.hpp"
#include "util/threads.hpp"

namespace bm {

namespace {

using Clock = std::chrono::steady_clock;

constexpr auto k_frame = std::chrono::milliseconds(100);  // at most ten redraws a second
constexpr const char* k_hide_cursor = "\x1b[?25l";
constexpr const char* k_show_cursor = "\x1b[?25h";

// The terminal whose cursor is hidden (-1: none), for the signal handlers below; and whether the
// process was stopped and continued since the last frame (the block is then drawn anew).
std::atomic<int> g_cursor_fd{-1};
std::atomic<bool> g_continued{false};
constexpr int k_restore_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGQUIT, SIGTSTP, SIGTTIN, SIGTTOU};
struct sigaction g_previous[std::size(k_restore_signals)];
struct sigaction g_previous_continue;

void show_cursor_now() {
  int fd = g_cursor_fd.load();
  if (fd >= 0) {
    ssize_t ignored = ::write(fd, k_show_cursor, 6);
    (void)ignored;
  }
}

// Async-signal-safe: the cursor comes back before the process stops or dies.
extern "C" void restore_cursor(int signal) {
  show_cursor_now();
  if (signal == SIGTSTP || signal == SIGTTIN || signal == SIGTTOU) {
    ::raise(SIGSTOP);  // the stop the user asked for; the display resumes on SIGCONT
    return;
  }
  ::signal(signal, SIG_DFL);
  ::raise(signal);
}

extern "C" void continued(int) {
  g_continued.store(true);
}

void install_handlers() {
  struct sigaction action {};
  action.sa_handler = restore_cursor;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  for (std::size_t i = 0; i < std::size(k_restore_signals); ++i) {
    ::sigaction(k_restore_signals[i], &action, &g_previous[i]);
  }
  struct sigaction on_continue {};
  on_continue.sa_handler = continued;
  sigemptyset(&on_continue.sa_mask);
  on_continue.sa_flags = SA_RESTART;
  ::sigaction(SIGCONT, &on_continue, &g_previous_continue);
}

void restore_handlers() {
  for (std::size_t i = 0; i < std::size(k_restore_signals); ++i) {
    ::sigaction(k_restore_signals[i], &g_previous[i], nullptr);
  }
  ::sigaction(SIGCONT, &g_previous_continue, nullptr);
}

std::pair<std::size_t, std::size_t> terminal_size(int fd) {
  winsize size{};
  if (::ioctl(fd, TIOCGWINSZ, &size) == 0 && size.ws_col > 0 && size.ws_row > 0) {
    return {size.ws_col, size.ws_row};
  }
  return {80, 24};
}

// Code points, not bytes, and no colour sequences: what a line takes on the screen (wide
// characters aside).
std::size_t visible_length(std::string_view text) {
  std::size_t length = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\x1b' && i + 1 < text.size() && text[i + 1] == '[') {
      for (i += 2; i < text.size() && !(text[i] >= '@' && text[i] <= '~'); ++i) {
      }
      continue;
    }
    length += (static_cast<unsigned char>(text[i]) & 0xC0) != 0x80 ? 1 : 0;
  }
  return length;
}

std::string fit(std::string text, std::size_t columns) {
  std::size_t limit = columns > 1 ? columns - 1 : 1;  // never the last column: no wrap, no pending-wrap state
  std::size_t seen = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
      if (seen == limit) {
        text.resize(i);
        if (limit > 1) {
          // the last visible character becomes an ellipsis: the line was cut
          std::size_t j = i;
          while (j > 0 && (static_cast<unsigned char>(text[j - 1]) & 0xC0) == 0x80) {
            --j;
          }
          text.resize(j > 0 ? j - 1 : 0);
          text += "\u2026";
        }
        break;
      }
      ++seen;
    }
  }
  return text;
}

std::string step_text(const RunProgress::Running& running) {
  if (!running.waiting.empty()) {
    return "waiting: " + running.waiting;
  }
  if (!running.step_known) {
    return "starting";
  }
  const ProcessStep& step = running.step;
  switch (step.phase) {
  case Phase::Setup:
    return "setup";
  case Phase::Teardown:
    return "teardown";
  case Phase::Prepare:
    return fmt::format("prepare {}/{}", step.index, step.count);
  case Phase::Warmup:
    return fmt::format("warm-up {}/{}", step.index, step.count);
  case Phase::Run:
    return fmt::format("run {}/{}", step.index, step.count);
  }
  return {};
}

} // namespace

std::vector<std::string> LiveDisplay::block(const RunProgress::Snapshot& snapshot, std::size_t columns,
                                            std::size_t rows, const Colors& colors, Clock::time_point now) {
  std::vector<std::string> lines;
  std::string status = RunProgress::status_line(snapshot);
  // "[12/60]" first, bold: the number a glance looks for.
  std::string head = fmt::format("[{}/{}]", snapshot.done + snapshot.failed + snapshot.interrupted, snapshot.total);
  lines.push_back(colors.bold + head + colors.reset + " " +
                  fit(status.substr(status.find(',') + 2), columns > head.size() + 1 ? columns - head.size() - 1 : 1));
  std::size_t room = rows > 2 ? rows - 2 : 1;  // the status line, and one line left for the cursor
  std::size_t shown = snapshot.running.size() <= room ? snapshot.running.size() : room - 1;
  // Columns line up: the widest slot and cores of the lines shown.
  std::size_t slot_width = 0, cores_width = 0;
  std::vector<std::string> cores(shown);
  for (std::size_t i = 0; i < shown; ++i) {
    const auto& running = snapshot.running[i];
    cores[i] = running.cpus.empty() ? "unpinned"
                                    : fmt::format("core{} {}", running.cpus.size() == 1 ? "" : "s",
                                                  format_cpu_list(running.cpus));
    if (!running.gpus.empty()) {
      std::vector<std::string> gpus;
      for (int gpu : running.gpus) {
        gpus.push_back(std::to_string(gpu));
      }
      cores[i] += fmt::format("  GPU{} {}", running.gpus.size() == 1 ? "" : "s", join(gpus, ","));
    }
    slot_width = std::max(slot_width, visible_length(running.slot));
    cores_width = std::max(cores_width, visible_length(cores[i]));
  }
  for (std::size_t i = 0; i < shown; ++i) {
    const auto& running = snapshot.running[i];
    double elapsed = std::chrono::duration<double>(now - running.started).count();
    std::string tail = fmt::format("  {}{}  {}", step_text(running),
                                   running.attempt > 1 ? fmt::format(" (attempt {})", running.attempt) : "",
                                   format_eta(elapsed));
    std::string line = fmt::format("  slot {:<{}}  {:<{}}  {}", running.slot, slot_width, cores[i], cores_width,
                                   running.label);
    // The task's label gives way first: the step and its time always show.
    std::size_t budget = columns > visible_length(tail) + 1 ? columns - visible_length(tail) : 2;
    lines.push_back(fit(line, budget) + tail);
    lines.back() = fit(lines.back(), columns);
  }
  if (shown < snapshot.running.size()) {
    lines.push_back(fit(fmt::format("  +{} more", snapshot.running.size() - shown), columns));
  }
  return lines;
}

LiveDisplay::LiveDisplay(std::FILE* terminal, RunProgress& progress, ConsoleOptions options, bool lines)
    : m_terminal(terminal), m_fd(::fileno(terminal)), m_progress(progress), m_options(options),
      m_lines(
          [this](std::string_view text) {
            std::lock_guard lock(m_mutex);
            if (m_started && !m_stopping) {
              m_pending.emplace_back(text);
              m_wake.notify_one();
            } else {
              console_write(m_terminal, text);
              console_flush(m_terminal);
            }
          },
          options),
      m_print_lines(lines) {}

LiveDisplay::~LiveDisplay() {
  stop();
}

void LiveDisplay::run_started(const Plan& plan, const RunHeader& header) {
  if (m_print_lines) {
    m_lines.run_started(plan, header);
  }
  std::lock_guard lock(m_mutex);
  m_started = true;
  m_columns = terminal_size(m_fd).first;
  g_cursor_fd.store(m_fd);
  install_handlers();
  console_write(m_terminal, k_hide_cursor);
  console_flush(m_terminal);
  m_thread = start_signal_free_thread([this] { loop(); });
}

void LiveDisplay::task_started(const Plan& plan, std::size_t task, const Lease& lease, int attempt) {
  if (m_print_lines) {
    m_lines.task_started(plan, task, lease, attempt);
  }
}

void LiveDisplay::task_finished(const Plan& plan, const TaskOutcome& outcome, const std::filesystem::path& dir,
                                bool will_retry) {
  if (m_print_lines) {
    m_lines.task_finished(plan, outcome, dir, will_retry);
  }
}

void LiveDisplay::interrupted(int signal, bool forced) {
  if (m_print_lines) {
    m_lines.interrupted(signal, forced);
  }
}

void LiveDisplay::run_finished(const Plan& plan, const RunSummary& summary) {
  stop();
  if (m_print_lines) {
    m_lines.run_finished(plan, summary);
  }
}

void LiveDisplay::loop() {
  std::unique_lock lock(m_mutex);
  Clock::time_point last{};
  while (!m_stopping) {
    m_wake.wait_for(lock, k_frame);
    if (m_stopping) {
      break;
    }
    if (Clock::now() - last < k_frame && !g_continued.load()) {
      continue;
    }
    draw(false);
    last = Clock::now();
  }
}

void LiveDisplay::draw(bool last) {
  auto [columns, rows] = terminal_size(m_fd);
  std::string out;
  if (g_continued.exchange(false)) {
    // Back from Ctrl-Z: the shell wrote below the old block; start a new one here.
    out += k_hide_cursor;
    m_drawn.clear();
  }
  if (!m_drawn.empty()) {
    // Up to the block's first line, counted at today's width (a narrower terminal re-wraps it).
    std::size_t used = 0;
    for (std::size_t length : m_drawn) {
      used += std::max<std::size_t>(1, (length + columns - 1) / columns);
    }
    out += fmt::format("\r\x1b[{}A\x1b[J", used);
  }
  m_columns = columns;
  for (auto& text : m_pending) {
    out += text;
  }
  m_pending.clear();
  m_drawn.clear();
  if (!last) {
    Colors colors = Colors::of(m_options.color);
    for (const auto& line : block(m_progress.snapshot(Clock::now()), columns, rows, colors, Clock::now())) {
      out += line;
      out += "\x1b[K\n";
      m_drawn.push_back(visible_length(line));
    }
  }
  console_write(m_terminal, out);
  console_flush(m_terminal);
}

void LiveDisplay::stop() {
  {
    std::lock_guard lock(m_mutex);
    if (!m_started || m_stopping) {
      return;
    }
    m_stopping = true;
    m_wake.notify_one();
  }
  if (m_thread.joinable()) {
    m_thread.join();
  }
  std::lock_guard lock(m_mutex);
  draw(true);  // the block goes; what was still to print stays
  console_write(m_terminal, k_show_cursor);
  console_flush(m_terminal);
  g_cursor_fd.store(-1);
  restore_handlers();
}

ProgressHeartbeat::ProgressHeartbeat(std::FILE* out, RunProgress& progress, std::chrono::seconds interval)
    : m_out(out), m_progress(progress), m_interval(interval) {}

ProgressHeartbeat::~ProgressHeartbeat() {
  stop();
}

void ProgressHeartbeat::run_started(const Plan&, const RunHeader&) {
  m_thread = start_signal_free_thread([this] {
    std::unique_lock lock(m_mutex);
    while (!m_wake.wait_for(lock, m_interval, [this] { return m_stopping; })) {
      RunProgress::Snapshot snapshot = m_progress.snapshot(Clock::now());
      if (snapshot.running.empty()) {
        continue;
      }
      const auto& oldest = snapshot.running.front();
      say(m_out, "... {}; oldest: {} ({}, {})\n", RunProgress::status_line(snapshot), oldest.label, step_text(oldest),
          format_eta(std::chrono::duration<double>(Clock::now() - oldest.started).count()));
      console_flush(m_out);
    }
  });
}

void ProgressHeartbeat::run_finished(const Plan&, const RunSummary&) {
  stop();
}

void ProgressHeartbeat::stop() {
  {
    std::lock_guard lock(m_mutex);
    m_stopping = true;
    m_wake.notify_one();
  }
  if (m_thread.joinable()) {
    m_thread.join();
  }
}

} // namespace bm
