#include "data/record_reader.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "tests/support/test_support.h"

namespace dpo {
namespace {

struct ReadRecord {
  std::string text;
  uint64_t line;
  int64_t index;
  uint64_t byte_offset;
  uint64_t size;
  RecordProblem problem;
};

std::vector<ReadRecord> read_all(
    const std::string& path, size_t cap = 1 << 20, RecordReader** keep = nullptr) {
  RecordReader reader(path, cap);
  std::vector<ReadRecord> out;
  Record r;
  while (reader.next(r)) {
    out.push_back({std::string(r.text), r.line, r.index, r.byte_offset, r.size, r.problem});
  }
  return out;
}

TEST(RecordReader, JsonlLinesWithLineNumbersAndOffsets) {
  testing::TempDir dir;
  testing::write_file(dir.file("a.jsonl"), "{\"a\":1}\n{\"b\":2}\n");
  auto records = read_all(dir.file("a.jsonl"));
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].text, "{\"a\":1}");
  EXPECT_EQ(records[0].line, 1u);
  EXPECT_EQ(records[0].index, -1);
  EXPECT_EQ(records[1].text, "{\"b\":2}");
  EXPECT_EQ(records[1].line, 2u);
  EXPECT_EQ(records[1].byte_offset, 8u);
}

TEST(RecordReader, CrlfBlankLinesAndAMissingFinalNewline) {
  testing::TempDir dir;
  testing::write_file(dir.file("a.jsonl"), "{\"a\":1}\r\n\r\n   \n{\"b\":2}");
  RecordReader reader(dir.file("a.jsonl"), 1 << 20);
  Record r;
  ASSERT_TRUE(reader.next(r));
  EXPECT_EQ(r.text, "{\"a\":1}");
  ASSERT_TRUE(reader.next(r));
  EXPECT_EQ(r.text, "{\"b\":2}");
  EXPECT_EQ(r.line, 4u);
  EXPECT_FALSE(reader.next(r));
  EXPECT_EQ(reader.blank_lines(), 2u);
  EXPECT_EQ(reader.layout(), FileLayout::jsonl);
}

TEST(RecordReader, LoneCarriageReturnsEndLines) {
  // Old Mac line ends: ten records, not one "improper structure" row.
  testing::TempDir dir;
  std::string text;
  for (int i = 0; i < 10; ++i)
    text += "{\"n\":" + std::to_string(i) + "}\r";
  testing::write_file(dir.file("a.jsonl"), text);
  RecordReader reader(dir.file("a.jsonl"), 1 << 20);
  std::vector<ReadRecord> records;
  Record r;
  while (reader.next(r))
    records.push_back({std::string(r.text), r.line, r.index, r.byte_offset, r.size, r.problem});
  ASSERT_EQ(records.size(), 10u);
  EXPECT_EQ(records[3].text, "{\"n\":3}");
  EXPECT_EQ(records[3].line, 4u);
  EXPECT_EQ(records[3].byte_offset, 3u * 8);
  EXPECT_EQ(reader.cr_line_ends(), 10u);
}

TEST(RecordReader, MixedLineEndsCountLinesAsEditorsDo) {
  testing::TempDir dir;
  testing::write_file(dir.file("a.jsonl"), "\r{\"a\":1}\r\n\r{\"b\":2}\n\r\n{\"c\":3}\r");
  RecordReader reader(dir.file("a.jsonl"), 1 << 20);
  Record r;
  ASSERT_TRUE(reader.next(r));
  EXPECT_EQ(r.text, "{\"a\":1}");
  EXPECT_EQ(r.line, 2u);
  ASSERT_TRUE(reader.next(r));
  EXPECT_EQ(r.text, "{\"b\":2}");
  EXPECT_EQ(r.line, 4u);
  ASSERT_TRUE(reader.next(r));
  EXPECT_EQ(r.text, "{\"c\":3}");
  EXPECT_EQ(r.line, 6u);
  EXPECT_FALSE(reader.next(r));
  EXPECT_EQ(reader.blank_lines(), 3u);
  EXPECT_EQ(reader.cr_line_ends(), 2u);  // line 3 and the last line
}

TEST(RecordReader, CrLfSplitAcrossReadsIsOneLineEnd) {
  // The 1 MiB read buffer ends between \r and \n: still one line end, no blank line.
  testing::TempDir dir;
  const std::string first = "{\"a\":\"" + std::string((1 << 20) - 9, 'x') + "\"}";
  ASSERT_EQ(first.size() + 1, size_t(1) << 20);  // the \r is the buffer's last byte
  testing::write_file(dir.file("a.jsonl"), first + "\r\n{\"b\":2}\r\n");
  auto records = read_all(dir.file("a.jsonl"), size_t(4) << 20);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].text, first);
  EXPECT_EQ(records[1].text, "{\"b\":2}");
  EXPECT_EQ(records[1].line, 2u);
}

TEST(RecordReader, TooLargeLinesEndAtALoneCarriageReturnToo) {
  testing::TempDir dir;
  std::string big(3'000'000, 'x');
  testing::write_file(dir.file("a.jsonl"), "{\"a\":1}\r" + big + "\r{\"c\":3}\r");
  auto records = read_all(dir.file("a.jsonl"), /*cap=*/1000);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[1].problem, RecordProblem::too_large);
  EXPECT_EQ(records[1].size, big.size());
  EXPECT_EQ(records[2].text, "{\"c\":3}");
  EXPECT_EQ(records[2].line, 3u);
  // A too-large line ending in \r\n exactly where a read ends.
  std::string exact((1 << 20) - 1, 'y');
  testing::write_file(dir.file("b.jsonl"), exact + "\r\n{\"d\":4}\n");
  records = read_all(dir.file("b.jsonl"), /*cap=*/1000);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].size, exact.size());
  EXPECT_EQ(records[1].text, "{\"d\":4}");
  EXPECT_EQ(records[1].line, 2u);
}

TEST(RecordReader, SkipsAByteOrderMark) {
  testing::TempDir dir;
  testing::write_file(dir.file("a.jsonl"), "\xEF\xBB\xBF{\"a\":1}\n");
  RecordReader reader(dir.file("a.jsonl"), 1 << 20);
  Record r;
  ASSERT_TRUE(reader.next(r));
  EXPECT_EQ(r.text, "{\"a\":1}");
  EXPECT_TRUE(reader.had_byte_order_mark());
}

TEST(RecordReader, ATooLargeLineIsSkippedAndTheNextOneIsRead) {
  testing::TempDir dir;
  std::string big(3'000'000, 'x');  // larger than the 1 MiB read buffer
  testing::write_file(dir.file("a.jsonl"), "{\"a\":1}\n" + big + "\n{\"c\":3}\n");
  auto records = read_all(dir.file("a.jsonl"), /*cap=*/1000);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[1].problem, RecordProblem::too_large);
  EXPECT_EQ(records[1].size, big.size());
  EXPECT_EQ(records[1].line, 2u);
  EXPECT_TRUE(records[1].text.empty());
  EXPECT_EQ(records[2].text, "{\"c\":3}");
  EXPECT_EQ(records[2].line, 3u);
}

TEST(RecordReader, ALineLongerThanTheBufferButUnderTheCapIsReadWhole) {
  testing::TempDir dir;
  std::string value(3'000'000, 'y');
  std::string line = "{\"v\":\"" + value + "\"}";
  testing::write_file(dir.file("a.jsonl"), line + "\n{\"w\":1}\n");
  auto records = read_all(dir.file("a.jsonl"), 16 << 20);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].text, line);
  EXPECT_EQ(records[1].text, "{\"w\":1}");
}

TEST(RecordReader, ReadsGzipIncludingConcatenatedMembers) {
  testing::TempDir dir;
  std::string text;
  for (int i = 0; i < 1000; ++i)
    text += "{\"i\":" + std::to_string(i) + "}\n";
  testing::write_gzip_file(dir.file("a.jsonl.gz"), text, /*members=*/3);
  RecordReader reader(dir.file("a.jsonl.gz"), 1 << 20);
  EXPECT_TRUE(reader.compressed());
  Record r;
  int count = 0;
  std::string last;
  while (reader.next(r)) {
    ++count;
    last = std::string(r.text);
  }
  EXPECT_EQ(count, 1000);
  EXPECT_EQ(last, "{\"i\":999}");
}

TEST(RecordReader, ATruncatedGzipFileIsAnIoErrorNamingTheFile) {
  testing::TempDir dir;
  std::string text;
  for (int i = 0; i < 5000; ++i)
    text += "{\"i\":" + std::to_string(i * 7919) + "}\n";
  testing::write_gzip_file(dir.file("a.jsonl.gz"), text);
  std::string compressed = testing::read_file(dir.file("a.jsonl.gz"));
  testing::write_file(dir.file("cut.jsonl.gz"), compressed.substr(0, compressed.size() / 2));
  try {
    read_all(dir.file("cut.jsonl.gz"));
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("cut.jsonl.gz"), std::string::npos) << e.what();
  }
}

TEST(RecordReader, JsonArrayElementsWithIndexAndStartLine) {
  testing::TempDir dir;
  testing::write_file(
      dir.file("a.json"), "[\n  {\"a\": \"x ] , { \\\" [\"},\n  {\"b\": [1, {\"c\": 2}]}\n]\n");
  auto records = read_all(dir.file("a.json"));
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].text, "{\"a\": \"x ] , { \\\" [\"}");
  EXPECT_EQ(records[0].index, 0);
  EXPECT_EQ(records[0].line, 2u);
  EXPECT_EQ(records[1].text, "{\"b\": [1, {\"c\": 2}]}");
  EXPECT_EQ(records[1].index, 1);
  EXPECT_EQ(records[1].line, 3u);
}

TEST(RecordReader, AnEmptyArrayHasNoRecords) {
  testing::TempDir dir;
  testing::write_file(dir.file("a.json"), "  [ ]  \n");
  RecordReader reader(dir.file("a.json"), 1 << 20);
  Record r;
  EXPECT_FALSE(reader.next(r));
  EXPECT_EQ(reader.layout(), FileLayout::json_array);
}

TEST(RecordReader, ATruncatedArrayIsReportedOnceAndReadingStops) {
  testing::TempDir dir;
  testing::write_file(dir.file("a.json"), "[{\"a\":1},\n{\"b\":");
  auto records = read_all(dir.file("a.json"));
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].problem, RecordProblem::none);
  EXPECT_EQ(records[1].problem, RecordProblem::malformed_array);
  EXPECT_EQ(records[1].index, 1);
}

TEST(RecordReader, MalformedArrays) {
  testing::TempDir dir;
  for (const char* text :
       {"[{\"a\":1},]",
        "[{\"a\":1},,{\"b\":1}]",
        "[{\"a\":1} {\"b\":1}]",
        "[{\"a\":1}] trailing"}) {
    testing::write_file(dir.file("a.json"), text);
    auto records = read_all(dir.file("a.json"));
    ASSERT_FALSE(records.empty()) << text;
    EXPECT_EQ(records.back().problem, RecordProblem::malformed_array) << text;
  }
}

TEST(RecordReader, ATooLargeArrayElementIsSkipped) {
  testing::TempDir dir;
  std::string big(2'500'000, 'z');
  testing::write_file(dir.file("a.json"), "[{\"a\":\"" + big + "\"},{\"b\":1}]");
  auto records = read_all(dir.file("a.json"), /*cap=*/100);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].problem, RecordProblem::too_large);
  EXPECT_EQ(records[0].size, big.size() + 8);
  EXPECT_EQ(records[1].text, "{\"b\":1}");
}

TEST(RecordReader, AMissingFileIsAnIoError) {
  EXPECT_THROW(RecordReader("/nonexistent/x.jsonl", 100), IoError);
}

}  // namespace
}  // namespace dpo
