#include "util/fs.hpp"

#include <filesystem>

#include <gtest/gtest.h>

#include "util/error.hpp"

namespace bm {
namespace {

std::filesystem::path temp_dir(const std::string& name) {
  auto dir = std::filesystem::path(::testing::TempDir()) / ("bm_fs_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

TEST(Fs, AtomicWriteReplacesWholeFileAndLeavesNoTemporary) {
  auto dir = temp_dir("atomic");
  write_file_atomic(dir / "a.json", "first");
  write_file_atomic(dir / "a.json", "second, longer", true);
  EXPECT_EQ(read_file(dir / "a.json"), "second, longer");
  int entries = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir)) {
    ++entries;
  }
  EXPECT_EQ(entries, 1);
}

TEST(Fs, StreamedAtomicWriteAppearsWholeOnCommitOnly) {
  auto dir = temp_dir("streamed");
  write_file_atomic(dir / "r.csv", "old\n");
  std::string expected;
  {
    AtomicFileWriter out(dir / "r.csv");
    for (int i = 0; i < 200000; ++i) {  // several buffer flushes
      std::string line = std::to_string(i) + ",x\n";
      out.append(line);
      expected += line;
    }
    EXPECT_EQ(read_file(dir / "r.csv"), "old\n");  // the old file until the rename
    out.commit();
  }
  EXPECT_EQ(read_file(dir / "r.csv"), expected);
  {
    AtomicFileWriter abandoned(dir / "r.csv");
    abandoned.append("half");
  }  // destroyed without commit: as after an exception
  EXPECT_EQ(read_file(dir / "r.csv"), expected);
  int entries = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir)) {
    ++entries;
  }
  EXPECT_EQ(entries, 1);
}

TEST(Fs, ReadIfPresentTellsMissingFromUnreadable) {
  auto dir = temp_dir("present");
  EXPECT_EQ(read_file_if_present(dir / "none.json"), std::nullopt);
  EXPECT_EQ(read_file_if_present(dir / "none" / "deeper.json"), std::nullopt);
  write_file_atomic(dir / "a.json", "{}");
  EXPECT_EQ(read_file_if_present(dir / "a.json"), std::optional<std::string>("{}"));
  EXPECT_THROW(read_file_if_present(dir), SystemError);  // a folder: there, but not a file
}

TEST(Fs, ErrorsNameTheCallAndPath) {
  try {
    read_file("/nonexistent/benchmatrix/file");
    FAIL();
  } catch (const SystemError& error) {
    EXPECT_NE(std::string(error.what()).find("open(/nonexistent/benchmatrix/file)"), std::string::npos);
    EXPECT_EQ(error.error_number(), ENOENT);
  }
  EXPECT_THROW(write_file_atomic("/nonexistent/dir/x", "y"), SystemError);
}

} // namespace
} // namespace bm
