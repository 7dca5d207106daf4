#include "store/committer.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "util/error.hpp"
#include "util/fs.hpp"

namespace bm {
namespace {

TEST(Committer, SyncsInTheBackgroundAndWaitReturnsWhenDurable) {
  UniqueFd dir(::open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  UniqueFd file(::open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
  ASSERT_TRUE(dir);
  ASSERT_TRUE(file);
  Committer committer(dir.get(), file.get(), "/tmp");
  for (int i = 0; i < 100; ++i) {
    committer.request();  // requests made while a sync runs are served together
  }
  committer.wait();
  committer.check();
}

TEST(Committer, AFailedSyncIsReportedToTheWaiter) {
  UniqueFd dir(::open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(dir);
  Committer committer(dir.get(), -1, "/tmp/results");
  committer.request();
  try {
    committer.wait();
    FAIL() << "fdatasync of an invalid descriptor succeeded";
  } catch (const SystemError& error) {
    EXPECT_NE(std::string(error.what()).find("fdatasync"), std::string::npos) << error.what();
  }
  EXPECT_THROW(committer.check(), SystemError);
}

} // namespace
} // namespace bm
