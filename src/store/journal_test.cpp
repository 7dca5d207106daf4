#include "store/journal.hpp"

#include <fstream>

#include <gtest/gtest.h>

namespace bm {
namespace {

std::filesystem::path temp_file(const std::string& name) {
  auto path = std::filesystem::path(::testing::TempDir()) / ("bm_journal_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove(path);
  return path;
}

TEST(Journal, AppendsVersionedEventsAndReadsThemBack) {
  auto path = temp_file("append");
  {
    Journal journal = Journal::open(path);
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
    Journal journal = Journal::open(path);  // cuts the torn tail
    journal.append({{"event", "c"}});
  }
  auto events = Journal::read(path);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[2]["event"], "c");
  EXPECT_EQ(Journal::repair(path), 0u);
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

} // namespace
} // namespace bm
