#include "util/directory.hpp"

#include <fcntl.h>
#include <fstream>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include "util/error.hpp"

namespace bm {
namespace {

namespace fs = std::filesystem;

class DirectoryTest : public ::testing::Test {
protected:
  void SetUp() override {
    m_root = fs::path(::testing::TempDir()) / ("bm_directory_" + std::to_string(::getpid()));
    fs::remove_all(m_root);
    fs::create_directories(m_root / "out");
    fs::create_directories(m_root / "outside");
    std::ofstream(m_root / "outside" / "file") << "outside";
  }
  void TearDown() override { fs::remove_all(m_root); }
  std::string outside() const {
    std::ifstream in(m_root / "outside" / "file");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  fs::path m_root;
};

TEST_F(DirectoryTest, OpenBeneathNeverFollowsALinkOrLeavesTheBase) {
  Directory out = Directory::open(m_root / "out");
  fs::create_directories(m_root / "out" / "a");
  fs::create_symlink(m_root / "outside", m_root / "out" / "a" / "link");
  fs::create_symlink(m_root / "outside" / "file", m_root / "out" / "a" / "file_link");
  EXPECT_FALSE(open_beneath(out.fd(), "a/link/file", O_RDONLY));
  EXPECT_EQ(errno, ELOOP);
  EXPECT_FALSE(open_beneath(out.fd(), "a/file_link", O_RDONLY));
  EXPECT_FALSE(open_beneath(out.fd(), "../outside/file", O_RDONLY));
  EXPECT_FALSE(open_beneath(out.fd(), (m_root / "outside" / "file").string(), O_RDONLY));
  EXPECT_THROW(out.find("a/link"), SystemError);
  EXPECT_FALSE(out.find("missing").has_value());
}

TEST_F(DirectoryTest, MakeReplacesWhatWasPlantedOnThePathOnlyWhenAsked) {
  Directory out = Directory::open(m_root / "out");
  fs::create_symlink(m_root / "outside", m_root / "out" / "x");
  EXPECT_THROW(out.make("x/y"), SystemError);
  bool made = false;
  bool replaced = false;
  Directory y = out.make("x/y", &made, true, &replaced);
  EXPECT_TRUE(made);
  EXPECT_TRUE(replaced);
  EXPECT_TRUE(fs::is_directory(fs::symlink_status(m_root / "out" / "x")));
  y.write_atomic("result.json", "{}");
  EXPECT_TRUE(fs::exists(m_root / "out" / "x" / "y" / "result.json"));
  EXPECT_EQ(outside(), "outside");
  EXPECT_EQ(fs::directory_iterator(m_root / "outside")->path().filename(), "file");  // nothing new there
}

TEST_F(DirectoryTest, WritesReplaceWhateverStandsAtTheNameAndNeverWriteThroughALink) {
  Directory out = Directory::open(m_root / "out");
  fs::create_directories(m_root / "out" / "result.json" / "deep");
  out.write_atomic("result.json", "mine");
  EXPECT_TRUE(fs::is_regular_file(m_root / "out" / "result.json"));
  fs::create_symlink(m_root / "outside" / "file", m_root / "out" / "task.json");
  fs::create_symlink(m_root / "outside" / "file", m_root / "out" / ("task.json.tmp." + std::to_string(::getpid())));
  out.write_atomic("task.json", "mine");
  EXPECT_FALSE(fs::is_symlink(m_root / "out" / "task.json"));
  EXPECT_EQ(outside(), "outside");
  out.remove("result.json");
  EXPECT_FALSE(fs::exists(m_root / "out" / "result.json"));
}

TEST_F(DirectoryTest, ReadsOnlyRegularFilesAndWithinALimit) {
  Directory out = Directory::open(m_root / "out");
  ASSERT_EQ(::mkfifo((m_root / "out" / "fifo").c_str(), 0644), 0);
  EXPECT_THROW(out.read("fifo", 100), SystemError);  // at once: never waits for a writer
  fs::create_symlink(m_root / "outside" / "file", m_root / "out" / "link");
  EXPECT_THROW(out.read("link", 100), SystemError);
  std::ofstream(m_root / "out" / "big") << std::string(1000, 'x');
  EXPECT_THROW(out.read("big", 999), SystemError);
  EXPECT_EQ(out.read("big", 1000)->size(), 1000u);
  EXPECT_FALSE(out.read("missing", 10).has_value());
  EXPECT_FALSE(open_log(out.fd(), "fifo", O_WRONLY | O_APPEND));
  EXPECT_EQ(errno, ENXIO);  // a FIFO with no reader: refused without blocking
}

TEST_F(DirectoryTest, RemoveTakesAWholeTreeButNeverWhatALinkPointsTo) {
  Directory out = Directory::open(m_root / "out");
  fs::create_directories(m_root / "out" / "tree" / "a" / "b");
  std::ofstream(m_root / "out" / "tree" / "a" / "b" / "f") << "x";
  fs::create_symlink(m_root / "outside", m_root / "out" / "tree" / "a" / "link");
  ::chmod((m_root / "out" / "tree" / "a" / "b").c_str(), 0500);
  out.remove("tree");
  EXPECT_FALSE(fs::exists(m_root / "out" / "tree"));
  EXPECT_EQ(outside(), "outside");
  out.remove("tree");  // nothing there is fine
}

} // namespace
} // namespace bm
