#include "exec/output_sink.hpp"

#include <fcntl.h>
#include <filesystem>
#include <string>
#include <unistd.h>

#include <gtest/gtest.h>

#include "util/fs.hpp"

namespace bm {
namespace {

std::string temp_log(const std::string& name) {
  auto path = std::filesystem::path(::testing::TempDir()) / ("bm_sink_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove(path);
  return path.string();
}

// Writes `text` into the sink's pipe in pieces, draining as it goes (as the event loop would).
void feed(OutputSink& sink, const std::string& text, std::size_t piece) {
  for (std::size_t at = 0; at < text.size(); at += piece) {
    std::string part = text.substr(at, piece);
    write_all(sink.write_fd(), part, "pipe");
    sink.drain();
  }
  sink.close_write_end();
}

TEST(OutputSink, SmallOutputIsKeptWholeAndAppended) {
  std::string path = temp_log("small");
  write_file_atomic(path, "earlier run\n");
  std::string error;
  auto sink = OutputSink::open(AT_FDCWD, path, 100, error);
  ASSERT_TRUE(sink) << error;
  feed(*sink, "hello\nworld\n", 5);
  EXPECT_EQ(sink->finish(), 0u);
  EXPECT_EQ(sink->total(), 12u);
  EXPECT_EQ(read_file(path), "earlier run\nhello\nworld\n");
}

TEST(OutputSink, KeepsHeadAndTailInOrderWithAMarker) {
  std::string path = temp_log("flood");
  std::string error;
  auto sink = OutputSink::open(AT_FDCWD, path, 20, error);
  ASSERT_TRUE(sink) << error;
  std::string text;
  for (int i = 0; i < 100; ++i) {
    text += static_cast<char>('a' + i % 26);
  }
  feed(*sink, text, 7);  // pieces that straddle the head and wrap the ring several times
  EXPECT_EQ(sink->finish(), 80u);
  std::string log = read_file(path);
  EXPECT_EQ(log.substr(0, 10), text.substr(0, 10));
  EXPECT_EQ(log.substr(log.size() - 10), text.substr(90));
  EXPECT_NE(log.find("80 bytes dropped here"), std::string::npos) << log;
}

TEST(OutputSink, ExactlyTheCapIsNotTruncated) {
  std::string path = temp_log("exact");
  std::string error;
  auto sink = OutputSink::open(AT_FDCWD, path, 10, error);
  ASSERT_TRUE(sink);
  feed(*sink, "0123456789", 3);
  EXPECT_EQ(sink->finish(), 0u);
  EXPECT_EQ(read_file(path), "0123456789");
}

TEST(OutputSink, NoOutputCreatesNoFile) {
  std::string path = temp_log("quiet");
  std::filesystem::remove(path);
  std::string error;
  auto sink = OutputSink::open(AT_FDCWD, path, 10, error);
  ASSERT_TRUE(sink) << error;
  sink->close_write_end();
  EXPECT_EQ(sink->finish(), 0u);
  EXPECT_EQ(sink->total(), 0u);
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(OutputSink, AnUnwritableLogDropsTheOutputAndSaysWhy) {
  std::string error;
  auto sink = OutputSink::open(AT_FDCWD, "/nonexistent/dir/log", 10, error);
  ASSERT_TRUE(sink) << error;
  feed(*sink, "lost", 2);
  sink->finish();
  EXPECT_EQ(sink->total(), 4u);
  EXPECT_NE(sink->write_error().find("open(/nonexistent/dir/log)"), std::string::npos) << sink->write_error();
}

} // namespace
} // namespace bm
