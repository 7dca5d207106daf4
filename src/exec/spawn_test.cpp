#include "exec/spawn.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "util/fs.hpp"

namespace bm {
namespace {

extern "C" char** environ;

SpawnRequest request_for(char* const* argv, int null_fd) {
  SpawnRequest request;
  request.program = argv[0];
  request.argv = argv;
  request.envp = environ;
  request.stdio[0] = request.stdio[1] = request.stdio[2] = null_fd;
  return request;
}

TEST(Spawn, StartsAProcessInItsOwnGroupWithTheGivenExitStatus) {
  UniqueFd null_fd(::open("/dev/null", O_RDWR | O_CLOEXEC));
  char* argv[] = {const_cast<char*>("/bin/sh"), const_cast<char*>("-c"), const_cast<char*>("exit 7"), nullptr};
  SpawnResult result = spawn_process(request_for(argv, null_fd.get()));
  ASSERT_GT(result.pid, 0) << result.step << ": " << std::strerror(result.error);
  EXPECT_EQ(::getpgid(result.pid), result.pid);
  int status = 0;
  ASSERT_EQ(::waitpid(result.pid, &status, 0), result.pid);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 7);
}

TEST(Spawn, AFailedStepIsNamedAndLeavesNoChild) {
  UniqueFd null_fd(::open("/dev/null", O_RDWR | O_CLOEXEC));
  char* argv[] = {const_cast<char*>("/dev/null"), nullptr};  // exists, cannot be executed
  SpawnResult result = spawn_process(request_for(argv, null_fd.get()));
  EXPECT_EQ(result.pid, -1);
  EXPECT_EQ(std::string(result.step), "execve");
  EXPECT_EQ(result.error, EACCES);

  char* sh[] = {const_cast<char*>("/bin/sh"), const_cast<char*>("-c"), const_cast<char*>("true"), nullptr};
  SpawnRequest request = request_for(sh, null_fd.get());
  request.working_directory = "/nonexistent-benchmatrix-dir";
  result = spawn_process(request);
  EXPECT_EQ(result.pid, -1);
  EXPECT_EQ(std::string(result.step), "chdir");
  EXPECT_EQ(result.error, ENOENT);
  // The failed children were reaped: none is left to wait for.
  EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

} // namespace
} // namespace bm
