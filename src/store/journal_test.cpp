#include "store/journal.hpp"

#include <fcntl.h>
#include <fstream>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include "util/error.hpp"

namespace bm {
namespace {

Journal open_journal(const std::filesystem::path& path) {
  return Journal::open(Directory::open(path.parent_path()), path.filename().string());
}

std::filesystem::path temp_file(const std::string& name) {
  auto path = std::filesystem::path(::testing::TempDir()) / ("bm_journal_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove(path);
  return path;
}

TEST(Journal, AppendsVersionedEventsAndReadsThemBack) {
  auto path = temp_file("append");
  {
    Journal journal = open_journal(path);
    journal.append({{"event", "task-started"}, {"task_id", "a"}});
    journal.append({{"event", "task-succeeded"}, {"task_id", "a"}});
  }
  auto events = Journal::read(path);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1]["event"], "task-succeeded");
  EXPECT_EQ(events[0]["schema"], 1);
  EXPECT_TRUE(events[0].contains("time"));
}

TEST(Journal, TornLastLineIsIgnoredAndRepairedOnOpen) {
  auto path = temp_file("torn");
  {
    std::ofstream out(path);
    out << "{\"event\": \"a\"}\n{\"event\": \"b\"}\n{\"event\": \"tor";
  }
  EXPECT_EQ(Journal::read(path).size(), 2u);
  {
    Journal journal = open_journal(path);  // cuts the torn tail
    journal.append({{"event", "c"}});
  }
  auto events = Journal::read(path);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[2]["event"], "c");
  UniqueFd fd(::open(path.c_str(), O_RDWR));
  EXPECT_EQ(Journal::repair(fd.get(), path.string()), 0u);
}

TEST(Journal, CorruptMiddleLineIsSkipped) {
  auto path = temp_file("corrupt");
  {
    std::ofstream out(path);
    out << "{\"event\": \"a\"}\n\x01\x02garbage\n{\"event\": \"b\"}\n";
  }
  EXPECT_EQ(Journal::read(path).size(), 2u);
  EXPECT_TRUE(Journal::read(temp_file("missing")).empty());
}

TEST(Journal, ALinkOrAFifoInItsPlaceIsRefusedNotFollowed) {
  auto target = temp_file("target");
  auto link = temp_file("link");
  { std::ofstream(target) << "outside\n"; }
  std::filesystem::create_symlink(target, link);
  EXPECT_THROW(open_journal(link), SystemError);
  EXPECT_THROW(Journal::read(link), SystemError);
  auto fifo = temp_file("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  EXPECT_THROW(open_journal(fifo), SystemError);  // refused at once, never waited on
  std::ifstream in(target);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "outside");
  std::filesystem::remove(link);
  std::filesystem::remove(fifo);
  std::filesystem::remove(target);
}

} // namespace
} // namespace bm
