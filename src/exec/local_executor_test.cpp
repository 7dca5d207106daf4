#include "exec/local_executor.hpp"

#include "util/signals.hpp"
#include "util/fs.hpp"

#include <cstring>
#include <sstream>
#include <gtest/gtest.h>

#include <fcntl.h>
#include <filesystem>
#include <optional>
#include <set>
#include <signal.h>
#include <sys/stat.h>
#include <thread>
#include <sys/syscall.h>
#include <unistd.h>

namespace bm {
namespace {

using namespace std::chrono_literals;

// Upper bound for anything meant to be quick: generous enough for a loaded 2-core CI machine.
constexpr auto k_generous = 10s;
constexpr double k_generous_seconds = 10.0;

// Polls until `condition` holds. Only tests poll; the executor itself never sleeps.
template <typename Condition>
bool eventually(Condition condition) {
  auto give_up = Clock::now() + k_generous;
  while (!condition()) {
    if (Clock::now() > give_up) {
      return false;
    }
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

bool file_has_line(const std::string& path) {
  std::error_code error;
  return std::filesystem::exists(path, error) && read_file(path).find('\n') != std::string::npos;
}

// Gone, or a zombie nobody reaps yet (PID 1 of a container may never reap it): either way dead.
bool process_dead(pid_t pid) {
  std::string path = "/proc/" + std::to_string(pid) + "/stat";
  if (::access(path.c_str(), F_OK) != 0) {
    return true;
  }
  std::string stat = read_file(path);
  std::size_t end_of_name = stat.rfind(')');
  return end_of_name == std::string::npos || end_of_name + 2 >= stat.size() || stat[end_of_name + 2] == 'Z' ||
         stat[end_of_name + 2] == 'X';
}

// The value of one "Name:\tvalue" line of /proc/<pid>/status text.
std::string status_field(const std::string& status, const std::string& name) {
  std::size_t at = status.find(name + ":\t");
  if (at == std::string::npos) {
    return {};
  }
  at += name.size() + 2;
  return status.substr(at, status.find('\n', at) - at);
}

bool signal_in_mask(const std::string& hex_mask, int signal) {
  return (std::stoull(hex_mask, nullptr, 16) >> (signal - 1)) & 1U;
}

class LocalExecutorTest : public ::testing::TestWithParam<ExitWatch> {
protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "local_executor_XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    m_dir = pattern;
    m_blocker.emplace();
    m_executor.emplace(m_blocker->original_mask(), GetParam());
  }

  void TearDown() override {
    m_executor.reset();
    // An interrupt a test raised but never read must not reach the test binary once unblocked.
    sigset_t interrupts = interrupt_signals();
    timespec zero{};
    while (::sigtimedwait(&interrupts, nullptr, &zero) > 0) {
    }
    m_blocker.reset();
    std::error_code ignored;
    std::filesystem::remove_all(m_dir, ignored);
  }

  ProcessSpec spec(std::vector<std::string> argv) {
    ProcessSpec result;
    result.token = m_next_token++;
    result.argv = std::move(argv);
    result.env = {"PATH=/usr/bin:/bin"};
    result.timeout = 60s;  // a broken test ends instead of hanging
    return result;
  }

  ProcessSpec shell(const std::string& script) { return spec({"sh", "-c", script}); }

  ProcessResult wait_for_end() {
    ExecutorEvent event = m_executor->wait();
    EXPECT_EQ(event.kind, ExecutorEvent::Kind::ProcessEnded);
    return event.result;
  }

  ProcessResult run(const ProcessSpec& process) {
    m_executor->start(process);
    return wait_for_end();
  }

  std::string path(const std::string& name) const { return (m_dir / name).string(); }

  std::filesystem::path m_dir;
  std::optional<SignalBlocker> m_blocker;
  std::optional<LocalExecutor> m_executor;
  std::uint64_t m_next_token = 1;
};

TEST_P(LocalExecutorTest, UsesTheRequestedExitWatch) {
#if BENCHMATRIX_HAVE_PIDFD_OPEN
  EXPECT_EQ(m_executor->exit_watch(), GetParam());
#else
  EXPECT_EQ(m_executor->exit_watch(), ExitWatch::Sigchld);
#endif
}

TEST_P(LocalExecutorTest, ExitCodeZero) {
  ProcessSpec process = spec({"true"});
  ProcessResult result = run(process);
  EXPECT_EQ(result.token, process.token);
  EXPECT_EQ(result.start_error, "");
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_EQ(result.term_signal, 0);
  EXPECT_FALSE(result.timed_out);
  EXPECT_FALSE(result.interrupted);
  EXPECT_TRUE(result.succeeded());
  EXPECT_EQ(result.describe(), "succeeded");
  EXPECT_LE(result.started, result.ended);
  EXPECT_EQ(m_executor->running(), 0U);
}

TEST_P(LocalExecutorTest, ExitCodeNonZero) {
  ProcessResult result = run(shell("exit 3"));
  EXPECT_EQ(result.exit_code, 3);
  EXPECT_EQ(result.term_signal, 0);
  EXPECT_FALSE(result.succeeded());
  EXPECT_EQ(result.describe(), "exit code 3");
}

TEST_P(LocalExecutorTest, WallTimeCoversTheRun) {
  ProcessResult result = run(spec({"sleep", "0.3"}));
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_GE(result.wall_seconds, 0.3);
  EXPECT_LT(result.wall_seconds, k_generous_seconds);
}

TEST_P(LocalExecutorTest, KilledBySignal) {
  ProcessSpec process = shell("kill -SEGV $$");
  process.working_directory = m_dir.string();  // where a core file would land
  ProcessResult result = run(process);
  EXPECT_EQ(result.exit_code, -1);
  EXPECT_EQ(result.term_signal, SIGSEGV);
  EXPECT_EQ(result.describe(), "killed by signal 11 (SIGSEGV)");
}

TEST_P(LocalExecutorTest, TimeoutTerminatesTheWholeGroup) {
  ProcessSpec process = shell("sleep 30 & echo $! > " + path("background.pid") + "; sleep 30");
  process.timeout = 200ms;
  m_executor->start(process);
  // Timeouts are enforced inside wait(): the script has written its pid before it can fire.
  ASSERT_TRUE(eventually([&] { return file_has_line(path("background.pid")); }));
  ProcessResult result = wait_for_end();
  EXPECT_TRUE(result.timed_out);
  EXPECT_EQ(result.term_signal, SIGTERM);
  EXPECT_LT(result.wall_seconds, k_generous_seconds);
  EXPECT_TRUE(result.describe().starts_with("timed out after ")) << result.describe();
  pid_t background = std::stoi(read_file(path("background.pid")));
  EXPECT_TRUE(eventually([&] { return process_dead(background); }));
}

TEST_P(LocalExecutorTest, TimeoutEscalatesToKillAfterTheGrace) {
  ProcessSpec process = shell("trap '' TERM; echo ready > " + path("ready") + "; sleep 30");
  process.timeout = 100ms;
  process.kill_grace = 200ms;
  m_executor->start(process);
  ASSERT_TRUE(eventually([&] { return file_has_line(path("ready")); }));
  ProcessResult result = wait_for_end();
  EXPECT_TRUE(result.timed_out);
  EXPECT_EQ(result.term_signal, SIGKILL);
  EXPECT_LT(result.wall_seconds, k_generous_seconds);
}

TEST_P(LocalExecutorTest, BackgroundGrandchildDoesNotKeepTheRunAlive) {
  ProcessSpec process = shell("sleep 30 & echo $! > " + path("background.pid") + "; echo hi");
  process.stdout_path = path("out.txt");
  ProcessResult result = run(process);
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_FALSE(result.timed_out);
  EXPECT_LT(result.wall_seconds, k_generous_seconds);
  EXPECT_EQ(read_file(path("out.txt")), "hi\n");
  pid_t background = std::stoi(read_file(path("background.pid")));
  EXPECT_TRUE(eventually([&] { return process_dead(background); }));
}

TEST_P(LocalExecutorTest, MissingCommandIsAStartError) {
  ProcessSpec process = spec({"benchmatrix-no-such-command"});
  EXPECT_NO_THROW(m_executor->start(process));
  EXPECT_EQ(m_executor->running(), 1U);
  ProcessResult result = wait_for_end();
  EXPECT_EQ(result.token, process.token);
  EXPECT_EQ(result.start_error, "command not found: benchmatrix-no-such-command");
  EXPECT_EQ(result.started, result.ended);
  EXPECT_FALSE(result.succeeded());
  EXPECT_EQ(result.describe(), "could not start: command not found: benchmatrix-no-such-command");
  EXPECT_EQ(m_executor->running(), 0U);
}

TEST_P(LocalExecutorTest, MissingExecutableIsAStartError) {
  ProcessSpec process = spec({"./missing"});
  process.working_directory = m_dir.string();
  ProcessResult result = run(process);
  EXPECT_EQ(result.start_error, "exec(./missing): No such file or directory");
}

TEST_P(LocalExecutorTest, MissingWorkingDirectoryIsAStartError) {
  ProcessSpec process = spec({"true"});
  process.working_directory = path("nowhere");
  ProcessResult result = run(process);
  EXPECT_EQ(result.start_error, "chdir(" + path("nowhere") + "): No such file or directory");
}

TEST_P(LocalExecutorTest, UnopenableLogIsAStartError) {
  ProcessSpec process = spec({"true"});
  process.stderr_path = path("no/such/directory/err.txt");
  ProcessResult result = run(process);
  EXPECT_EQ(result.start_error, "open(" + process.stderr_path + "): No such file or directory");
}

TEST_P(LocalExecutorTest, OutputIsAppendedToTheFiles) {
  write_file_atomic(path("out.txt"), "old\n");
  ProcessSpec process = shell("echo out; echo err >&2");
  process.stdout_path = path("out.txt");
  process.stderr_path = path("err.txt");
  EXPECT_EQ(run(process).exit_code, 0);
  EXPECT_EQ(run(process).exit_code, 0);
  EXPECT_EQ(read_file(path("out.txt")), "old\nout\nout\n");
  EXPECT_EQ(read_file(path("err.txt")), "err\nerr\n");
  struct stat info {};
  ASSERT_EQ(::stat(path("err.txt").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777 & ~0022U, 0644U & ~0022U);
}

TEST_P(LocalExecutorTest, StdinIsDevNull) {
  ProcessSpec process = spec({"readlink", "/proc/self/fd/0"});
  process.stdout_path = path("out.txt");
  EXPECT_EQ(run(process).exit_code, 0);
  EXPECT_EQ(read_file(path("out.txt")), "/dev/null\n");
}

TEST_P(LocalExecutorTest, EnvironmentIsExactlyTheGivenOne) {
  ProcessSpec process = spec({"env"});
  process.env = {"PATH=/usr/bin:/bin", "BM_ONE=1", "BM_EMPTY="};
  process.stdout_path = path("out.txt");
  EXPECT_EQ(run(process).exit_code, 0);
  EXPECT_EQ(read_file(path("out.txt")), "PATH=/usr/bin:/bin\nBM_ONE=1\nBM_EMPTY=\n");
}

TEST_P(LocalExecutorTest, CommandIsLookedUpInTheChildsPath) {
  std::filesystem::create_directories(path("bin"));
  write_file_atomic(path("bin/benchmatrix-tool"), "#!/bin/sh\necho custom\n");
  ASSERT_EQ(::chmod(path("bin/benchmatrix-tool").c_str(), 0755), 0);
  ProcessSpec process = spec({"benchmatrix-tool"});
  process.env = {"PATH=/nonexistent:" + path("bin")};
  process.stdout_path = path("out.txt");
  ProcessResult result = run(process);
  EXPECT_EQ(result.start_error, "");
  EXPECT_EQ(read_file(path("out.txt")), "custom\n");
}

TEST_P(LocalExecutorTest, WorkingDirectoryIsApplied) {
  ProcessSpec process = spec({"pwd"});
  process.working_directory = m_dir.string();
  process.stdout_path = path("out.txt");
  EXPECT_EQ(run(process).exit_code, 0);
  EXPECT_EQ(read_file(path("out.txt")), std::filesystem::canonical(m_dir).string() + "\n");
}

TEST_P(LocalExecutorTest, EachProcessRunsInAGroupOfItsOwn) {
  // The group is led by its launcher, the program's parent; exec keeps the pid, so cut reads the
  // process group of the spawned program itself.
  ProcessSpec process = shell("echo $PPID; exec cut -d' ' -f5 /proc/self/stat");
  process.stdout_path = path("out.txt");
  EXPECT_EQ(run(process).exit_code, 0);
  std::string out = read_file(path("out.txt"));
  std::size_t newline = out.find('\n');
  ASSERT_NE(newline, std::string::npos);
  EXPECT_EQ(out.substr(0, newline + 1), out.substr(newline + 1));
  EXPECT_NE(std::stoi(out), ::getpgrp());
}

TEST_P(LocalExecutorTest, ChildStartsWithTheOriginalMaskAndDefaultDispositions) {
  struct sigaction ignore {};
  struct sigaction previous {};
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(::sigaction(SIGPIPE, &ignore, &previous), 0);
  ProcessSpec process = spec({"cat", "/proc/self/status"});
  process.stdout_path = path("status.txt");
  ProcessResult result = run(process);
  ::sigaction(SIGPIPE, &previous, nullptr);
  ASSERT_EQ(result.exit_code, 0);
  std::string status = read_file(path("status.txt"));
  for (int signal : {SIGINT, SIGTERM, SIGHUP, SIGCHLD}) {
    EXPECT_FALSE(signal_in_mask(status_field(status, "SigBlk"), signal)) << signal;
  }
  EXPECT_FALSE(signal_in_mask(status_field(status, "SigIgn"), SIGPIPE));
}

TEST_P(LocalExecutorTest, DoesNotLeakFileDescriptors) {
#ifdef SYS_close_range
  UniqueFd inheritable(::open("/dev/null", O_RDONLY));  // deliberately without O_CLOEXEC
  ASSERT_TRUE(inheritable);
  UniqueFd high(::fcntl(inheritable.get(), F_DUPFD, 100));
  ASSERT_TRUE(high);
  std::string fd = std::to_string(high.get());
  ProcessSpec process = shell("if [ -e /proc/self/fd/" + fd + " ]; then echo leaked; else echo closed; fi");
  process.stdout_path = path("out.txt");
  EXPECT_EQ(run(process).exit_code, 0);
  EXPECT_EQ(read_file(path("out.txt")), "closed\n");
#else
  GTEST_SKIP() << "needs close_range (Linux 5.9 headers)";
#endif
}

TEST_P(LocalExecutorTest, PinsBeforeTheFirstInstruction) {
  std::string own_before = status_field(read_file("/proc/self/status"), "Cpus_allowed_list");
  // The last cpu we may use: pinned, the child's list names it alone, unlike an inherited "0-1".
  int cpu = std::stoi(own_before.substr(own_before.find_last_of(",-") == std::string::npos ? 0 : own_before.find_last_of(",-") + 1));
  ProcessSpec process = spec({"cat", "/proc/self/status"});
  process.cpus = {cpu};
  process.stdout_path = path("status.txt");
  ProcessResult result = run(process);
  ASSERT_EQ(result.start_error, "");
  EXPECT_EQ(status_field(read_file(path("status.txt")), "Cpus_allowed_list"), std::to_string(cpu));
  EXPECT_EQ(status_field(read_file("/proc/self/status"), "Cpus_allowed_list"), own_before);

  ProcessSpec unpinned = spec({"cat", "/proc/self/status"});
  unpinned.stdout_path = path("unpinned.txt");
  ASSERT_EQ(run(unpinned).exit_code, 0);
  EXPECT_EQ(status_field(read_file(path("unpinned.txt")), "Cpus_allowed_list"), own_before);
}

TEST_P(LocalExecutorTest, UnavailableCpuIsAStartError) {
  ProcessSpec process = spec({"true"});
  process.cpus = {4095};
  ProcessResult result = run(process);
  EXPECT_EQ(result.start_error, "sched_setaffinity(4095): Invalid argument");
}

TEST_P(LocalExecutorTest, ReportsPeakMemoryOfTheChild) {
  // Multiplying bytes writes every page, unlike bytearray(n), whose zero pages are never touched.
  ProcessResult result = run(spec({"python3", "-c", "b = b'x' * 60_000_000"}));
  if (result.start_error.starts_with("command not found")) {
    GTEST_SKIP() << "python3 is not installed";
  }
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_GT(result.max_rss_kib, 40000);
}

TEST_P(LocalExecutorTest, PeakMemoryIsTheChildsOwnNotTheOrchestrators) {
  // Started vfork-style straight from here, a process's max_rss would read at least this
  // process's peak; through the launcher it reads its own.
  std::vector<char> ballast(256U << 20);
  std::memset(ballast.data(), 1, ballast.size());
  ProcessResult result = run(spec({"true"}));
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_GT(result.max_rss_kib, 0);
  EXPECT_LT(result.max_rss_kib, 16 * 1024) << "true's peak includes the orchestrator's " << ballast[ballast.size() / 2];
}

TEST_P(LocalExecutorTest, ReportsUserTimeOfTheChild) {
  ProcessResult result = run(shell("i=0; while [ $i -lt 300000 ]; do i=$((i + 1)); done"));
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_GT(result.user_seconds, 0.0);
  EXPECT_GE(result.system_seconds, 0.0);
}

TEST_P(LocalExecutorTest, ManyConcurrentProcessesComeBackExactlyOnce) {
  constexpr std::uint64_t k_processes = 200;
  constexpr std::size_t k_parallel = 4;
  std::set<std::uint64_t> seen;
  std::uint64_t next = 0;
  while (seen.size() < k_processes) {
    while (next < k_processes && m_executor->running() < k_parallel) {
      ProcessSpec process = spec({"true"});
      process.token = next++;
      m_executor->start(process);
    }
    ProcessResult result = wait_for_end();
    EXPECT_EQ(result.exit_code, 0) << result.describe();
    EXPECT_TRUE(seen.insert(result.token).second) << "token " << result.token << " came back twice";
  }
  EXPECT_EQ(m_executor->running(), 0U);
  EXPECT_EQ(*seen.rbegin(), k_processes - 1);
}

TEST_P(LocalExecutorTest, TerminateAllEndsEveryRunningProcess) {
  m_executor->start(spec({"sleep", "30"}));
  m_executor->start(spec({"sleep", "30"}));
  m_executor->terminate_all(SIGTERM);
  for (int i = 0; i < 2; ++i) {
    ProcessResult result = wait_for_end();
    EXPECT_TRUE(result.interrupted);
    EXPECT_FALSE(result.timed_out);
    EXPECT_EQ(result.term_signal, SIGTERM);
    EXPECT_LT(result.wall_seconds, k_generous_seconds);
    EXPECT_EQ(result.describe(), "interrupted");
  }
  EXPECT_EQ(m_executor->running(), 0U);
}

TEST_P(LocalExecutorTest, StartDelayPostponesTheStartWithoutBlocking) {
  ProcessSpec delayed = spec({"true"});
  delayed.token = 1;
  delayed.start_delay = 300ms;
  Clock::time_point asked = Clock::now();
  m_executor->start(delayed);
  ProcessSpec now = spec({"true"});
  now.token = 2;
  m_executor->start(now);
  EXPECT_EQ(m_executor->running(), 2U);
  ProcessResult first = wait_for_end();
  EXPECT_EQ(first.token, 2U);  // the undelayed one is not held up behind the cool-down
  ProcessResult second = wait_for_end();
  EXPECT_EQ(second.token, 1U);
  EXPECT_EQ(second.exit_code, 0);
  EXPECT_GE(second.started - asked, 300ms);
  EXPECT_LT(second.wall_seconds, k_generous_seconds);
}

TEST_P(LocalExecutorTest, TerminateAllCancelsDelayedStarts) {
  ProcessSpec delayed = spec({"touch", path("started")});
  delayed.start_delay = 30s;
  m_executor->start(delayed);
  m_executor->terminate_all(SIGTERM);
  ProcessResult result = wait_for_end();
  EXPECT_TRUE(result.interrupted);
  EXPECT_FALSE(std::filesystem::exists(path("started")));
  EXPECT_EQ(m_executor->running(), 0U);
}

TEST_P(LocalExecutorTest, TerminateAllEscalatesToKillAfterTheGrace) {
  ProcessSpec process = shell("trap '' TERM; echo ready > " + path("ready") + "; sleep 30");
  process.kill_grace = 200ms;
  m_executor->start(process);
  ASSERT_TRUE(eventually([&] { return file_has_line(path("ready")); }));
  m_executor->terminate_all(SIGTERM);
  ProcessResult result = wait_for_end();
  EXPECT_TRUE(result.interrupted);
  EXPECT_EQ(result.term_signal, SIGKILL);
  EXPECT_LT(result.wall_seconds, k_generous_seconds);
}

TEST_P(LocalExecutorTest, InterruptSignalIsReportedAndKillsNothing) {
  m_executor->start(spec({"sleep", "30"}));
  ASSERT_EQ(::kill(::getpid(), SIGINT), 0);
  ExecutorEvent event = m_executor->wait();
  EXPECT_EQ(event.kind, ExecutorEvent::Kind::Interrupted);
  EXPECT_EQ(event.signal, SIGINT);
  EXPECT_EQ(m_executor->running(), 1U);
  m_executor->terminate_all(SIGKILL);
  ProcessResult result = wait_for_end();
  EXPECT_TRUE(result.interrupted);
  EXPECT_EQ(result.term_signal, SIGKILL);
}

TEST_P(LocalExecutorTest, InterruptArrivesWithNothingRunning) {
  ASSERT_EQ(::raise(SIGTERM), 0);
  ExecutorEvent event = m_executor->wait();
  EXPECT_EQ(event.kind, ExecutorEvent::Kind::Interrupted);
  EXPECT_EQ(event.signal, SIGTERM);
}

TEST_P(LocalExecutorTest, DestructorKillsAndReapsWhatIsStillRunning) {
  m_executor->start(shell("echo $PPID $$ > " + path("pid") + "; exec sleep 30"));
  ASSERT_TRUE(eventually([&] { return file_has_line(path("pid")); }));
  std::istringstream pids(read_file(path("pid")));
  pid_t launcher = 0;
  pid_t pid = 0;
  pids >> launcher >> pid;
  m_executor.reset();
  // Its launcher is reaped by us, its parent: not even a zombie is left. The program, killed
  // with it, is reaped by init.
  EXPECT_NE(::access(("/proc/" + std::to_string(launcher)).c_str(), F_OK), 0);
  EXPECT_TRUE(eventually([&] { return !read_process_stat(pid) || read_process_stat(pid)->state == 'Z'; }));
}

TEST_P(LocalExecutorTest, ClosesEveryDescriptorItOpened) {
  m_executor.reset();
  auto count_fds = [] {
    auto entries = std::filesystem::directory_iterator("/proc/self/fd");
    return std::distance(std::filesystem::begin(entries), std::filesystem::end(entries));
  };
  auto before = count_fds();
  {
    LocalExecutor executor(m_blocker->original_mask(), GetParam());
    ProcessSpec process = spec({"true"});
    process.stdout_path = path("out.txt");
    executor.start(process);
    executor.start(spec({"benchmatrix-no-such-command"}));
    executor.start(spec({"sleep", "30"}));
    for (int i = 0; i < 2; ++i) {
      EXPECT_EQ(executor.wait().kind, ExecutorEvent::Kind::ProcessEnded);
    }
  }
  EXPECT_EQ(count_fds(), before);
}

INSTANTIATE_TEST_SUITE_P(LocalExecutor, LocalExecutorTest, ::testing::Values(ExitWatch::Pidfd, ExitWatch::Sigchld),
                         [](const ::testing::TestParamInfo<ExitWatch>& param) {
                           return param.param == ExitWatch::Pidfd ? "Pidfd" : "Sigchld";
                         });

TEST(LocalExecutorDescribe, EveryKindOfEnd) {
  ProcessResult result;
  result.exit_code = 0;
  EXPECT_EQ(result.describe(), "succeeded");
  result.exit_code = 3;
  EXPECT_EQ(result.describe(), "exit code 3");
  result.exit_code = -1;
  result.term_signal = SIGKILL;
  EXPECT_EQ(result.describe(), "killed by signal 9 (SIGKILL)");
  result.term_signal = SIGTERM;
  result.timed_out = true;
  result.wall_seconds = 2.5;
  EXPECT_EQ(result.describe(), "timed out after 2.5s (killed by SIGTERM)");
  result.interrupted = true;
  EXPECT_EQ(result.describe(), "interrupted");
  result.start_error = "command not found: x";
  EXPECT_EQ(result.describe(), "could not start: command not found: x");
}

TEST(SignalBlocker, BlocksWhileAliveAndRestoresTheOriginalMask) {
  bool before = is_blocked(SIGINT);
  {
    SignalBlocker blocker;
    for (int signal : {SIGINT, SIGTERM, SIGHUP, SIGCHLD}) {
      EXPECT_TRUE(is_blocked(signal)) << signal;
    }
    EXPECT_EQ(sigismember(&blocker.original_mask(), SIGINT) == 1, before);
  }
  EXPECT_EQ(is_blocked(SIGINT), before);
}

TEST(SignalDeathTest, ReraiseDefaultEndsTheProcessByTheSignal) {
  EXPECT_EXIT(
      {
        SignalBlocker blocker;
        ::signal(SIGTERM, SIG_IGN);
        reraise_default(SIGTERM);
      },
      ::testing::KilledBySignal(SIGTERM), "");
}

} // namespace
} // namespace bm
