// Prepared HDF5 datasets: round trip, verification of bad files, reference log-probs.
#include "dataloader/prepared_dataset.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "core/error.h"
#include "dataloader/pair_encoder.h"
#include "tests/support/test_support.h"

namespace dpo {
namespace {

// `n` pairs whose token ids and lengths follow from their index.
PreparedSplit make_split(int n, int offset = 0) {
  PreparedSplit split;
  for (int i = 0; i < n; ++i) {
    EncodedPair pair;
    for (int t = 0; t < 2 + i % 3; ++t)
      pair.prompt.push_back(10 + offset + i + t);
    for (int t = 0; t < 1 + i % 4; ++t)
      pair.chosen.push_back(50 + i);
    for (int t = 0; t < 1 + i % 2; ++t)
      pair.rejected.push_back(70 + i);
    pair.flags = static_cast<uint8_t>(i % 2 ? kPromptTruncated : 0);
    split.add(pair, i % 2, 100 + i, "id-" + std::to_string(offset + i));
  }
  return split;
}

PreparedHeader make_header() {
  PreparedHeader header;
  header.fingerprint = "fp123";
  header.source_sha256 = std::string(64, 'a');
  header.tokenizer_sha256 = std::string(64, 'b');
  header.template_sha256 = std::string(64, 'c');
  header.template_text = "{{ messages }} ✓";
  header.max_length = 512;
  header.options_json = R"({"seed": 1})";
  header.source_files = {"a.jsonl", "b.jsonl.gz"};
  header.vocab_size = 100000;
  header.bos_id = 1;
  header.eos_id = 2;
  header.pad_id = 0;
  return header;
}

void expect_same(const PreparedSplit& a, const PreparedSplit& b) {
  EXPECT_EQ(a.prompt_ids, b.prompt_ids);
  EXPECT_EQ(a.chosen_ids, b.chosen_ids);
  EXPECT_EQ(a.rejected_ids, b.rejected_ids);
  EXPECT_EQ(a.prompt_offsets, b.prompt_offsets);
  EXPECT_EQ(a.chosen_offsets, b.chosen_offsets);
  EXPECT_EQ(a.rejected_offsets, b.rejected_offsets);
  EXPECT_EQ(a.source_line, b.source_line);
  EXPECT_EQ(a.source_file, b.source_file);
  EXPECT_EQ(a.flags, b.flags);
  EXPECT_EQ(a.row_ids, b.row_ids);
}

std::string error_of(const std::function<void()>& body) {
  try {
    body();
  } catch (const CacheError& error) {
    return error.what();
  }
  return "no CacheError";
}

TEST(PreparedDataset, RoundTripsEveryField) {
  testing::TempDir dir;
  std::string path = dir.file("prepared.h5");
  // Large enough for the chunked, compressed layout; val stays contiguous; plus an empty split
  // in the second file.
  PreparedSplit train = make_split(3000), val = make_split(7, 5000);
  write_prepared_dataset(path, make_header(), train, val);

  PreparedDataset dataset = read_prepared_dataset(path);
  EXPECT_EQ(dataset.path, path);
  const PreparedHeader& h = dataset.header;
  EXPECT_EQ(h.version, kPreparedVersion);
  EXPECT_EQ(h.fingerprint, "fp123");
  EXPECT_EQ(h.tokenizer_sha256, std::string(64, 'b'));
  EXPECT_EQ(h.template_text, "{{ messages }} ✓");
  EXPECT_EQ(h.max_length, 512);
  EXPECT_EQ(h.options_json, R"({"seed": 1})");
  EXPECT_EQ(h.source_files, (std::vector<std::string>{"a.jsonl", "b.jsonl.gz"}));
  EXPECT_EQ(h.vocab_size, 100000);
  EXPECT_EQ(h.bos_id, 1);
  EXPECT_EQ(h.created_by.rfind("dpo ", 0), 0u) << h.created_by;
  expect_same(dataset.train, train);
  expect_same(dataset.val, val);
  EXPECT_EQ(&dataset.split("val"), &dataset.val);
  EXPECT_THROW(dataset.split("test"), UsageError);
  EXPECT_EQ(read_prepared_header(path).fingerprint, "fp123");

  // Pair views.
  PairTokens pair = dataset.val.pair(2);
  EXPECT_EQ(pair.prompt.to_vector(), (std::vector<int32_t>{5012, 5013, 5014, 5015}));
  EXPECT_EQ(dataset.val.chosen_length(2), 4 + 3);
  EXPECT_EQ(dataset.val.rejected_length(2), 4 + 1);

  // Only the file itself is left in the folder (the temporary file was renamed).
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    (void)entry;
    ++files;
  }
  EXPECT_EQ(files, 1);

  std::string empty_path = dir.file("empty.h5");
  write_prepared_dataset(empty_path, make_header(), make_split(2), PreparedSplit());
  EXPECT_EQ(read_prepared_dataset(empty_path).val.size(), 0u);
  EXPECT_EQ(read_prepared_header(empty_path).validation_json, "");  // not recorded: none stored

  // The validation report, when given, comes back byte for byte.
  PreparedHeader with_report = make_header();
  with_report.validation_json = "{\n  \"rows\": 3,\n  \"note\": \"\u00e9 ✓\"\n}";
  std::string report_path = dir.file("with_report.h5");
  write_prepared_dataset(report_path, with_report, make_split(2), PreparedSplit());
  EXPECT_EQ(read_prepared_header(report_path).validation_json, with_report.validation_json);
}

TEST(PreparedDataset, LengthStats) {
  PreparedSplit split = make_split(4);
  // prompt lengths 2 3 4 2; chosen sequences 3 5 7 6; rejected sequences 3 5 5 4.
  SplitLengthStats stats = length_stats(split);
  EXPECT_EQ(stats.pairs, 4u);
  EXPECT_EQ(stats.prompt.min, 2);
  EXPECT_EQ(stats.prompt.max, 4);
  EXPECT_DOUBLE_EQ(stats.prompt.mean, 11.0 / 4);
  EXPECT_EQ(stats.chosen.max, 7);
  EXPECT_EQ(stats.rejected.min, 3);
  EXPECT_EQ(stats.total_tokens, (3 + 5 + 7 + 6) + (3 + 5 + 5 + 4));
}

TEST(PreparedDataset, BadFilesAreClearErrors) {
  testing::TempDir dir;
  EXPECT_THROW(read_prepared_dataset(dir.file("missing.h5")), IoError);

  std::string text = dir.file("text.h5");
  testing::write_file(text, "just some text, not HDF5\n");
  std::string message = error_of([&] { read_prepared_dataset(text); });
  EXPECT_NE(message.find(text), std::string::npos) << message;
  EXPECT_NE(message.find("not an HDF5 file"), std::string::npos) << message;

  std::string good = dir.file("good.h5");
  write_prepared_dataset(good, make_header(), make_split(3000), make_split(10));
  std::string bytes = testing::read_file(good);

  std::string truncated = dir.file("truncated.h5");
  testing::write_file(truncated, bytes.substr(0, bytes.size() / 2));
  message = error_of([&] { read_prepared_dataset(truncated); });
  EXPECT_NE(message.find(truncated), std::string::npos) << message;

  // Another format name in the `format` attribute.
  std::string other = dir.file("other.h5");
  std::string patched = bytes;
  size_t at = patched.find("dpo-prepared");
  ASSERT_NE(at, std::string::npos);
  patched.replace(at, 12, "dpo-unknown!");
  testing::write_file(other, patched);
  message = error_of([&] { read_prepared_dataset(other); });
  EXPECT_NE(message.find("dpo-unknown!"), std::string::npos) << message;
  EXPECT_NE(message.find(other), std::string::npos) << message;
}

TEST(PreparedDataset, BadOffsetsAndIdsAreCacheErrors) {
  testing::TempDir dir;
  std::string path = dir.file("bad.h5");

  PreparedSplit decreasing = make_split(4);
  decreasing.chosen_offsets[2] = decreasing.chosen_offsets[1] - 1;
  write_prepared_dataset(path, make_header(), decreasing, make_split(1));
  std::string message = error_of([&] { read_prepared_dataset(path); });
  EXPECT_NE(message.find("train/chosen_offsets decreases"), std::string::npos) << message;

  PreparedSplit short_ids = make_split(4);
  short_ids.prompt_ids.pop_back();
  write_prepared_dataset(path, make_header(), make_split(1), short_ids);
  message = error_of([&] { read_prepared_dataset(path); });
  EXPECT_NE(message.find("val/prompt_offsets ends at"), std::string::npos) << message;

  PreparedSplit missing_ids = make_split(4);
  missing_ids.row_ids.pop_back();
  write_prepared_dataset(path, make_header(), missing_ids, make_split(1));
  message = error_of([&] { read_prepared_dataset(path); });
  EXPECT_NE(message.find("train/row_ids has 3 entries"), std::string::npos) << message;

  // Ids are checked against the vocabulary given, else the header's.
  write_prepared_dataset(path, make_header(), make_split(4), make_split(1));
  EXPECT_NO_THROW(read_prepared_dataset(path));
  message = error_of([&] { read_prepared_dataset(path, 60); });
  EXPECT_NE(message.find("outside the vocabulary"), std::string::npos) << message;
  PreparedHeader small = make_header();
  small.vocab_size = 20;
  write_prepared_dataset(path, small, make_split(4), make_split(1));
  EXPECT_THROW(read_prepared_dataset(path), CacheError);

  PreparedSplit bad_file = make_split(2);
  bad_file.source_file[0] = 9;
  write_prepared_dataset(path, make_header(), bad_file, make_split(1));
  EXPECT_THROW(read_prepared_dataset(path), CacheError);
}

ReferenceLogps make_logps(const std::string& hash, size_t train, size_t val, double base) {
  ReferenceLogps logps;
  logps.model_hash = hash;
  logps.dtype = "bfloat16";
  for (auto [split, n] : {std::pair{&logps.train, train}, std::pair{&logps.val, val}}) {
    for (size_t i = 0; i < n; ++i) {
      split->chosen_logps.push_back(base - static_cast<double>(i) * 0.25);
      split->rejected_logps.push_back(base - 100.0 - static_cast<double>(i));
      // The completion lengths of make_split()'s pairs, as the scorer counts them.
      split->chosen_tokens.push_back(static_cast<int32_t>(1 + i % 4));
      split->rejected_tokens.push_back(static_cast<int32_t>(1 + i % 2));
    }
  }
  return logps;
}

TEST(PreparedDataset, ReferenceLogpsAreStoredPerModel) {
  testing::TempDir dir;
  std::string path = dir.file("prepared.h5");
  PreparedSplit train = make_split(5), val = make_split(2);
  write_prepared_dataset(path, make_header(), train, val);
  EXPECT_TRUE(list_reference_logps(path).empty());
  EXPECT_FALSE(read_reference_logps(path, "abc"));

  write_reference_logps(path, make_logps("abc", 5, 2, -10.0));
  write_reference_logps(path, make_logps("def", 5, 2, -20.0));
  EXPECT_EQ(list_reference_logps(path), (std::vector<std::string>{"abc", "def"}));
  std::optional<ReferenceLogps> abc = read_reference_logps(path, "abc");
  ASSERT_TRUE(abc);
  ReferenceLogps expected = make_logps("abc", 5, 2, -10.0);
  EXPECT_EQ(abc->model_hash, "abc");
  EXPECT_EQ(abc->dtype, "bfloat16");
  EXPECT_FALSE(abc->dpo_version.empty());
  EXPECT_EQ(abc->train.chosen_logps, expected.train.chosen_logps);
  EXPECT_EQ(abc->train.rejected_logps, expected.train.rejected_logps);
  EXPECT_EQ(abc->val.rejected_tokens, expected.val.rejected_tokens);

  // Replacing a model's entry; the pairs are untouched.
  write_reference_logps(path, make_logps("abc", 5, 2, -30.0));
  EXPECT_EQ(read_reference_logps(path, "abc")->train.chosen_logps[0], -30.0);
  EXPECT_EQ(read_reference_logps(path, "def")->train.chosen_logps[0], -20.0);
  PreparedDataset dataset = read_prepared_dataset(path);
  expect_same(dataset.train, train);

  // Sizes must match the splits.
  std::string message = error_of([&] { write_reference_logps(path, make_logps("x", 4, 2, 0)); });
  EXPECT_NE(message.find("split train"), std::string::npos) << message;
  EXPECT_THROW(write_reference_logps(path, make_logps("a/b", 5, 2, 0)), UsageError);
}

}  // namespace
}  // namespace dpo
