// Prepared HDF5 datasets: round trip, verification of bad files, reference log-probs.
#include "dataloader/prepared_dataset.h"

#include <gtest/gtest.h>
#include <hdf5.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <tuple>

#include "core/error.h"
#include "dataloader/pair_encoder.h"
#include "dataloader/prepared_seal.h"
#include "tests/support/test_support.h"

namespace dpo {
namespace {

// Seals a prepared file again after a deliberate edit (prepared_seal.h), as if dpo had written
// the edited file: the edit then reaches the checks behind the seal instead of the seal itself.
void reseal(std::string& bytes) {
  ASSERT_TRUE(seal_prepared_image(bytes)) << "not a file with dpo's user block";
}

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
  EXPECT_NE(message.find("damaged"), std::string::npos) << message;  // the seal sees the edit
  reseal(patched);
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

// ---- hostile files, crafted with the HDF5 C API ----

// Opens `path` for writing with the C API; closes and reseals it when destroyed.
class RawFile {
 public:
  explicit RawFile(const std::string& path)
      : path_(path), id_(H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT)) {
    EXPECT_GE(id_, 0) << path;
  }
  ~RawFile() {
    H5Fclose(id_);
    std::string bytes = testing::read_file(path_);
    reseal(bytes);
    testing::write_file(path_, bytes);
  }
  RawFile(const RawFile&) = delete;
  RawFile& operator=(const RawFile&) = delete;
  hid_t id() const {
    return id_;
  }

  // Replaces `name` by a chunked dataset that declares `size` elements and stores none.
  void declare_huge(const std::string& name, hid_t type, hsize_t size) {
    ASSERT_GE(H5Ldelete(id_, name.c_str(), H5P_DEFAULT), 0) << name;
    hid_t space = H5Screate_simple(1, &size, nullptr);
    hid_t properties = H5Pcreate(H5P_DATASET_CREATE);
    hsize_t chunk = 1024;
    H5Pset_chunk(properties, 1, &chunk);
    hid_t data = H5Dcreate2(id_, name.c_str(), type, space, H5P_DEFAULT, properties, H5P_DEFAULT);
    EXPECT_GE(data, 0) << name;
    H5Dclose(data);
    H5Pclose(properties);
    H5Sclose(space);
  }

  // Overwrites element `index` of a 1-D dataset.
  template <typename T>
  void set(const std::string& name, hid_t memory_type, hsize_t index, T value) {
    hid_t data = H5Dopen2(id_, name.c_str(), H5P_DEFAULT);
    ASSERT_GE(data, 0) << name;
    hid_t file_space = H5Dget_space(data);
    hsize_t count = 1;
    H5Sselect_hyperslab(file_space, H5S_SELECT_SET, &index, nullptr, &count, nullptr);
    hid_t memory_space = H5Screate_simple(1, &count, nullptr);
    EXPECT_GE(H5Dwrite(data, memory_type, memory_space, file_space, H5P_DEFAULT, &value), 0);
    H5Sclose(memory_space);
    H5Sclose(file_space);
    H5Dclose(data);
  }

  template <typename T>
  T get(const std::string& name, hid_t memory_type, hsize_t index) {
    T value{};
    hid_t data = H5Dopen2(id_, name.c_str(), H5P_DEFAULT);
    hid_t file_space = H5Dget_space(data);
    hsize_t count = 1;
    H5Sselect_hyperslab(file_space, H5S_SELECT_SET, &index, nullptr, &count, nullptr);
    hid_t memory_space = H5Screate_simple(1, &count, nullptr);
    H5Dread(data, memory_type, memory_space, file_space, H5P_DEFAULT, &value);
    H5Sclose(memory_space);
    H5Sclose(file_space);
    H5Dclose(data);
    return value;
  }

 private:
  std::string path_;
  hid_t id_;
};

TEST(PreparedDataset, HugeDeclaredSizesAreRefusedBeforeAnyAllocation) {
  testing::TempDir dir;
  const std::string good = dir.file("good.h5");
  write_prepared_dataset(good, make_header(), make_split(5), make_split(2));
  const std::string bytes = testing::read_file(good);
  const hsize_t huge = hsize_t{1} << 40;
  // Each case: a dataset replaced by one declaring 2^40 elements, and what the error names.
  const std::vector<std::tuple<std::string, hid_t, std::string>> cases = {
      {"/train/source_line", H5T_STD_I64LE, "train/source_line declares 1099511627776 elements"},
      {"/val/flags", H5T_STD_U8LE, "val/flags declares 1099511627776 elements"},
      {"/train/chosen_ids", H5T_STD_I32LE, "train/chosen_ids declares 1099511627776 elements"},
      {"/train/prompt_offsets", H5T_STD_I64LE, "train/prompt_offsets declares"},
  };
  for (const auto& [name, type, expected] : cases) {
    std::string path = dir.file("huge.h5");
    testing::write_file(path, bytes);
    {
      RawFile file(path);
      file.declare_huge(name, type, huge);
    }
    std::string message = error_of([&] { read_prepared_dataset(path); });
    EXPECT_NE(message.find(expected), std::string::npos) << name << ": " << message;
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NO_THROW(read_prepared_header(path));  // the header alone is fine
  }
}

TEST(PreparedDataset, InconsistentOffsetsAreRefusedWithTheirDataset) {
  testing::TempDir dir;
  const std::string good = dir.file("good.h5");
  write_prepared_dataset(good, make_header(), make_split(5), make_split(2));
  const std::string bytes = testing::read_file(good);
  struct Case {
    const char* dataset;
    hsize_t index;
    int64_t value;
    const char* expected;
  };
  // make_split(5): prompt offsets 0 2 5 9 11 14, chosen offsets 0 1 3 6 10 11.
  const Case cases[] = {
      {"/train/prompt_offsets", 0, -1, "train/prompt_offsets does not start at 0"},
      {"/train/chosen_offsets", 3, 2, "train/chosen_offsets decreases at entry 3"},
      {"/train/rejected_offsets", 5, 1000, "train/rejected_offsets ends at 1000"},
      {"/val/prompt_offsets", 2, -5, "val/prompt_offsets decreases at entry 2"},
      {"/train/chosen_offsets",
       2,
       1,
       "train pair 1 (id 'id-1', b.jsonl.gz:101) has an empty "
       "chosen completion"},
  };
  for (const Case& c : cases) {
    std::string path = dir.file("bad.h5");
    testing::write_file(path, bytes);
    {
      RawFile file(path);
      file.set<int64_t>(c.dataset, H5T_NATIVE_INT64, c.index, c.value);
    }
    std::string message = error_of([&] { read_prepared_dataset(path); });
    EXPECT_NE(message.find(c.expected), std::string::npos) << c.dataset << ": " << message;
    EXPECT_NE(message.find(path), std::string::npos) << message;
  }
}

TEST(PreparedDataset, PairsWithAnEmptyCompletionAreRefused) {
  testing::TempDir dir;
  for (const char* side : {"chosen", "rejected", "prompt"}) {
    PreparedSplit split;
    for (int i = 0; i < 3; ++i) {
      EncodedPair pair;
      pair.prompt = {5, 6};
      pair.chosen = {7};
      pair.rejected = {8, 9};
      if (i == 2) {
        std::vector<int32_t>& emptied = std::string(side) == "chosen"     ? pair.chosen
                                        : std::string(side) == "rejected" ? pair.rejected
                                                                          : pair.prompt;
        emptied.clear();
      }
      split.add(pair, 0, 10 + i, "row-" + std::to_string(i));
    }
    std::string path = dir.file(std::string(side) + ".h5");
    write_prepared_dataset(path, make_header(), make_split(2), split);
    std::string message = error_of([&] { read_prepared_dataset(path); });
    EXPECT_NE(
        message.find(
            "val pair 2 (id 'row-2', a.jsonl:12) has an empty " + std::string(side) +
            (std::string(side) == "prompt" ? "" : " completion") + " (0 tokens)"),
        std::string::npos)
        << message;
  }
}

TEST(PreparedDataset, CachedReferenceValuesAreVerifiedByChecksum) {
  testing::TempDir dir;
  const std::string path = dir.file("prepared.h5");
  write_prepared_dataset(path, make_header(), make_split(5), make_split(2));
  write_reference_logps(path, make_logps("abc", 5, 2, -10.0));
  const std::string bytes = testing::read_file(path);
  ASSERT_TRUE(read_reference_logps(path, "abc"));

  // One value changed by +30 nats on a pair other than the first, in either split, or a
  // token count, or the dtype the values claim: refused, naming the file and the group.
  struct Case {
    const char* dataset;
    hsize_t index;
    const char* group;
  };
  for (const Case& c :
       {Case{"/reference/abc/train/chosen_logps", 3, "reference/abc/train"},
        Case{"/reference/abc/train/rejected_logps", 4, "reference/abc/train"},
        Case{"/reference/abc/val/chosen_logps", 1, "reference/abc/val"}}) {
    testing::write_file(path, bytes);
    {
      RawFile file(path);
      double value = file.get<double>(c.dataset, H5T_NATIVE_DOUBLE, c.index);
      file.set<double>(c.dataset, H5T_NATIVE_DOUBLE, c.index, value + 30.0);
    }
    std::string message = error_of([&] { read_reference_logps(path, "abc"); });
    EXPECT_NE(message.find("checksum mismatch"), std::string::npos) << message;
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NE(message.find(c.group), std::string::npos) << message;
    EXPECT_NE(message.find("--write-reference"), std::string::npos) << message;
  }
  testing::write_file(path, bytes);
  {
    RawFile file(path);
    file.set<int32_t>("/reference/abc/val/rejected_tokens", H5T_NATIVE_INT32, 1, 7);
  }
  EXPECT_NE(
      error_of([&] { read_reference_logps(path, "abc"); }).find("checksum mismatch"),
      std::string::npos);

  // Values computed on another prepared file (another fingerprint), copied in: refused too.
  const std::string other = dir.file("other.h5");
  PreparedHeader header = make_header();
  header.fingerprint = "another";
  write_prepared_dataset(other, header, make_split(5), make_split(2));
  testing::write_file(path, bytes);
  {
    RawFile source(path);
    RawFile target(other);
    ASSERT_GE(
        H5Ocopy(source.id(), "/reference", target.id(), "/reference", H5P_DEFAULT, H5P_DEFAULT), 0);
  }
  EXPECT_NE(
      error_of([&] { read_reference_logps(other, "abc"); }).find("checksum mismatch"),
      std::string::npos);

  // A cache from before checksums (the attribute absent) is not used: it is computed again.
  testing::write_file(path, bytes);
  {
    RawFile file(path);
    ASSERT_GE(H5Adelete_by_name(file.id(), "/reference/abc/train", "checksum", H5P_DEFAULT), 0);
  }
  EXPECT_FALSE(read_reference_logps(path, "abc"));
}

TEST(PreparedDataset, CachedTokenCountsMustMatchTheCompletions) {
  testing::TempDir dir;
  const std::string path = dir.file("prepared.h5");
  write_prepared_dataset(path, make_header(), make_split(5), make_split(2));
  // At write: a count that is not the completion's length.
  ReferenceLogps wrong = make_logps("abc", 5, 2, -10.0);
  wrong.train.chosen_tokens[2] += 1;
  std::string message = error_of([&] { write_reference_logps(path, wrong); });
  EXPECT_NE(message.find("reference/abc/train/chosen_tokens[2] = 4"), std::string::npos) << message;
  EXPECT_NE(message.find("completion has 3 tokens"), std::string::npos) << message;
  EXPECT_TRUE(list_reference_logps(path).empty());  // nothing was written

  // At read: a valid cache (its checksum intact) next to splits of other lengths, as when a
  // file's pairs were replaced under the same fingerprint.
  write_reference_logps(path, make_logps("abc", 5, 2, -10.0));
  const std::string other = dir.file("other.h5");
  PreparedSplit longer = make_split(5);
  longer.chosen_ids.push_back(99);
  longer.chosen_offsets.back() += 1;  // the last pair's chosen completion is one token longer
  write_prepared_dataset(other, make_header(), longer, make_split(2));
  {
    RawFile source(path);
    RawFile target(other);
    ASSERT_GE(
        H5Ocopy(source.id(), "/reference", target.id(), "/reference", H5P_DEFAULT, H5P_DEFAULT), 0);
  }
  message = error_of([&] { read_reference_logps(other, "abc"); });
  EXPECT_NE(message.find("reference/abc/train/chosen_tokens[4] = 1"), std::string::npos) << message;
  EXPECT_NE(message.find(other), std::string::npos) << message;

  // Arrays sized differently from the split: refused before they are read.
  {
    RawFile file(path);
    file.declare_huge("/reference/abc/val/chosen_logps", H5T_IEEE_F64LE, hsize_t{1} << 40);
  }
  message = error_of([&] { read_reference_logps(path, "abc"); });
  EXPECT_NE(message.find("reference/abc/val/chosen_logps declares"), std::string::npos) << message;
}

TEST(PreparedDataset, StaleTemporariesOfDeadProcessesAreRemoved) {
  testing::TempDir dir;
  // A pid that surely exited: a child that ran `true` and was waited for.
  pid_t child = ::fork();
  if (child == 0)
    _exit(0);
  ASSERT_GT(child, 0);
  ASSERT_EQ(::waitpid(child, nullptr, 0), child);
  const std::string dead = std::to_string(child);
  const std::string stale = dir.file("p.h5.tmp." + dead + ".0");
  const std::string stale_other = dir.file("other.h5.tmp." + dead + ".12");
  const std::string alive = dir.file("p.h5.tmp." + std::to_string(::getppid()) + ".0");
  const std::string not_ours = dir.file("notes.txt.tmp." + dead + ".0");
  const std::string not_a_temp = dir.file("p.h5.tmp." + dead + ".x");
  for (const std::string& path : {stale, stale_other, alive, not_ours, not_a_temp})
    testing::write_file(path, "partial");

  write_prepared_dataset(dir.file("p.h5"), make_header(), make_split(2), make_split(1));
  EXPECT_FALSE(std::filesystem::exists(stale));
  EXPECT_FALSE(std::filesystem::exists(stale_other));
  EXPECT_TRUE(std::filesystem::exists(alive));
  EXPECT_TRUE(std::filesystem::exists(not_ours));
  EXPECT_TRUE(std::filesystem::exists(not_a_temp));
  EXPECT_TRUE(remove_stale_prepared_temporaries(dir.path()).empty());
  testing::write_file(stale, "partial");
  EXPECT_EQ(remove_stale_prepared_temporaries(dir.path()), std::vector<std::string>{stale});
}

// Root attributes are single values: an array in their place is refused, not read into one.
TEST(PreparedDataset, AttributesHoldingArraysAreRefused) {
  testing::TempDir dir;
  const std::string good = dir.file("good.h5");
  write_prepared_dataset(good, make_header(), make_split(2), make_split(1));
  const std::string bytes = testing::read_file(good);
  for (const char* name : {"version", "vocab_size", "fingerprint", "template"}) {
    const std::string path = dir.file(std::string(name) + ".h5");
    testing::write_file(path, bytes);
    {
      RawFile file(path);
      ASSERT_GE(H5Adelete(file.id(), name), 0);
      hsize_t size = 1000;
      hid_t space = H5Screate_simple(1, &size, nullptr);
      const bool text = std::string(name) == "fingerprint" || std::string(name) == "template";
      hid_t type = H5T_STD_I64LE;
      if (text) {
        type = H5Tcopy(H5T_C_S1);
        H5Tset_size(type, H5T_VARIABLE);
      }
      hid_t attribute = H5Acreate2(file.id(), name, type, space, H5P_DEFAULT, H5P_DEFAULT);
      ASSERT_GE(attribute, 0);
      H5Aclose(attribute);
      if (text)
        H5Tclose(type);
      H5Sclose(space);
    }
    std::string message = error_of([&] { read_prepared_header(path); });
    EXPECT_NE(
        message.find("attribute `" + std::string(name) + "` holds 1000 values instead of one"),
        std::string::npos)
        << message;
  }
}

TEST(PreparedDataset, NotAPreparedFileSaysWhy) {
  testing::TempDir dir;
  EXPECT_EQ(not_a_prepared_file(dir.file("missing.h5")), "not an HDF5 file");
  testing::write_file(dir.file("text.jsonl"), "{\"prompt\": \"x\"}\n");
  EXPECT_EQ(not_a_prepared_file(dir.file("text.jsonl")), "not an HDF5 file");
  const std::string good = dir.file("good.h5");
  write_prepared_dataset(good, make_header(), make_split(2), make_split(1));
  EXPECT_EQ(not_a_prepared_file(good), "");
  {
    RawFile file(good);
    H5Adelete(file.id(), "format");
  }
  EXPECT_EQ(not_a_prepared_file(good), "an HDF5 file without dpo's `format` attribute");
  std::string bytes = testing::read_file(good);
  testing::write_file(good, bytes.substr(kPreparedUserBlockBytes));  // no user block, no seal
  EXPECT_EQ(
      not_a_prepared_file(good),
      "an HDF5 file without dpo's checksum (an older dpo's prepared file, or another "
      "tool's file)");
  bytes[kPreparedUserBlockBytes + 100] ^= 1;
  testing::write_file(good, bytes);
  EXPECT_EQ(not_a_prepared_file(good), "a damaged prepared file (its checksum does not match)");
}

}  // namespace
}  // namespace dpo

namespace dpo {
namespace {

// Provenance (issue 19): each pair's `metadata` object travels through the file, so that a
// held-out pair can be traced to its reviewer and rubric after training.
TEST(PreparedDataset, KeepsEachPairsMetadata) {
  testing::TempDir dir;
  std::string path = dir.file("prepared.h5");
  PreparedSplit train = make_split(2), val;
  EncodedPair pair{{5, 6}, {7}, {8}, 0};
  val.add(pair, 0, 1, "a", R"({"reviewer":"r1","rubric":"concise"})");
  val.add(pair, 1, 2, "b");  // a row without metadata
  val.add(pair, 0, 3, "c", R"({"locale":"de-DE","note":"\u00e9"})");
  write_prepared_dataset(path, make_header(), train, val);

  PreparedDataset dataset = read_prepared_dataset(path);
  EXPECT_EQ(
      dataset.val.metadata,
      (std::vector<std::string>{
          R"({"reviewer":"r1","rubric":"concise"})", "", R"({"locale":"de-DE","note":"\u00e9"})"}));
  EXPECT_EQ(dataset.val.pair_metadata(0), R"({"reviewer":"r1","rubric":"concise"})");
  EXPECT_EQ(dataset.train.metadata, (std::vector<std::string>{"", ""}));  // added without any
  EXPECT_EQ(dataset.val.pair_metadata(99), "");
}

// The row's other top-level fields (a `source` column) travel beside the metadata, so that
// `--slice-by source` reads in eval what it reads in validate.
TEST(PreparedDataset, KeepsEachPairsOtherFields) {
  testing::TempDir dir;
  std::string path = dir.file("prepared.h5");
  PreparedSplit val;
  EncodedPair pair{{5, 6}, {7}, {8}, 0};
  val.add(pair, 0, 1, "a", R"({"reviewer":"r1"})", R"({"source":"web"})");
  val.add(pair, 0, 2, "b", "", "");
  val.add(pair, 0, 3, "c");  // added without either
  write_prepared_dataset(path, make_header(), make_split(2), val);

  PreparedDataset dataset = read_prepared_dataset(path);
  EXPECT_EQ(dataset.val.fields, (std::vector<std::string>{R"({"source":"web"})", "", ""}));
  EXPECT_EQ(dataset.val.pair_metadata(0), R"({"reviewer":"r1"})");
  EXPECT_EQ(dataset.train.fields, (std::vector<std::string>{"", ""}));
  EXPECT_EQ(dataset.val.pair_fields(99), "");
}

TEST(PreparedDataset, FilesWrittenBeforeOtherFieldsReadAsNone) {
  testing::TempDir dir;
  std::string path = dir.file("old.h5");
  PreparedSplit val;
  val.add(EncodedPair{{5}, {7}, {8}, 0}, 0, 1, "a", R"({"reviewer":"r1"})", R"({"source":"w"})");
  write_prepared_dataset(path, make_header(), make_split(3), val);
  {
    RawFile file(path);  // as dpo wrote it before the fields were kept
    ASSERT_GE(H5Ldelete(file.id(), "/train/fields", H5P_DEFAULT), 0);
    ASSERT_GE(H5Ldelete(file.id(), "/val/fields", H5P_DEFAULT), 0);
  }
  PreparedDataset dataset = read_prepared_dataset(path);
  EXPECT_EQ(dataset.val.fields, (std::vector<std::string>{""}));
  EXPECT_EQ(dataset.val.pair_metadata(0), R"({"reviewer":"r1"})");
}

TEST(PreparedDataset, FilesWrittenBeforeMetadataReadAsNoMetadata) {
  testing::TempDir dir;
  std::string path = dir.file("old.h5");
  PreparedSplit val;
  val.add(EncodedPair{{5}, {7}, {8}, 0}, 0, 1, "a", R"({"reviewer":"r1"})");
  write_prepared_dataset(path, make_header(), make_split(3), val);
  {
    RawFile file(path);  // as dpo wrote it before provenance: no metadata datasets
    ASSERT_GE(H5Ldelete(file.id(), "/train/metadata", H5P_DEFAULT), 0);
    ASSERT_GE(H5Ldelete(file.id(), "/val/metadata", H5P_DEFAULT), 0);
  }
  PreparedDataset dataset = read_prepared_dataset(path);
  EXPECT_EQ(dataset.val.size(), 1u);
  EXPECT_EQ(dataset.val.metadata, (std::vector<std::string>{""}));
  EXPECT_EQ(dataset.train.metadata, (std::vector<std::string>(3)));
}

TEST(PreparedDataset, MetadataOfTheWrongSizeIsACacheError) {
  testing::TempDir dir;
  std::string path = dir.file("bad.h5");
  write_prepared_dataset(path, make_header(), make_split(3), make_split(2, 100));
  {
    RawFile file(path);
    ASSERT_GE(H5Ldelete(file.id(), "/val/metadata", H5P_DEFAULT), 0);
    // One string where the split has two pairs.
    hsize_t size = 1;
    hid_t space = H5Screate_simple(1, &size, nullptr);
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, H5T_VARIABLE);
    hid_t data =
        H5Dcreate2(file.id(), "/val/metadata", type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    const char* one[] = {"{}"};
    H5Dwrite(data, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, one);
    H5Dclose(data);
    H5Tclose(type);
    H5Sclose(space);
  }
  EXPECT_NE(
      error_of([&] { read_prepared_dataset(path); }).find("val/metadata has 1 entries"),
      std::string::npos)
      << error_of([&] { read_prepared_dataset(path); });
}

}  // namespace
}  // namespace dpo
