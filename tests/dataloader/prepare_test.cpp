// prepare_dataset(): the fingerprinted, atomic writer behind `dpo prepare`, on small data sets
// written by the tests and a tokenizer trained in-process (bare tokenizer.model + a built-in
// template, so no model folder is needed).
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "dataloader/prepare.h"
#include "dataloader/prepared_dataset.h"
#include "tests/support/test_support.h"
#include "tokenizer/tokenizer.h"

namespace dpo {
namespace {

namespace fs = std::filesystem;

// One JSONL row in the conversational format.
std::string row(
    const std::string& id,
    const std::string& prompt,
    const std::string& chosen,
    const std::string& rejected) {
  return R"({"id": ")" + id + R"(", "prompt": [{"role": "user", "content": ")" + prompt +
         R"("}], "chosen": [{"role": "assistant", "content": ")" + chosen +
         R"("}], "rejected": [{"role": "assistant", "content": ")" + rejected + R"("}]})" + "\n";
}

// `n` distinct, clean pairs; `long_every` > 0 gives every such row a long chosen answer.
std::string rows(int n, int long_every = 0) {
  std::string text;
  for (int i = 0; i < n; ++i) {
    std::string chosen =
        "the clear steps for order " + std::to_string(i) + " are to check the email";
    if (long_every > 0 && i % long_every == 0) {
      for (int k = 0; k < 12; ++k)
        chosen += " and then explain why the quick brown fox jumps";
    }
    text +=
        row("r" + std::to_string(i),
            "please help with order number " + std::to_string(i),
            chosen,
            "no idea about order " + std::to_string(i) + ", sorry");
  }
  return text;
}

class PrepareTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    tokenizer_ = testing::train_tiny_sentencepiece(
        *dir_,
        {"please help with order number 12",
         "the clear steps for order 7 are to check the email",
         "no idea about order 3, sorry",
         "and then explain why the quick brown fox jumps",
         "user assistant system im_start im_end INST SYS"},
        120);
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }

  PrepareOptions options(const std::string& data, const std::string& out) const {
    PrepareOptions o;
    o.files = {data};
    o.tokenizer_path = tokenizer_;
    o.template_spec = "chatml";
    o.max_length = 256;
    o.threads = 2;
    o.out_path = out;
    o.validate.val_fraction = 0.2;
    return o;
  }

  static testing::TempDir* dir_;
  static std::string tokenizer_;
  testing::TempDir work_;
};

testing::TempDir* PrepareTest::dir_ = nullptr;
std::string PrepareTest::tokenizer_;

TEST_F(PrepareTest, RootAttributesHoldTheFingerprintAndHashes) {
  testing::write_file(work_.file("d.jsonl"), rows(40));
  PrepareResult result = prepare_dataset(options(work_.file("d.jsonl"), work_.file("p.h5")));
  EXPECT_FALSE(result.reused);
  EXPECT_EQ(result.train_pairs + result.val_pairs, 40u);
  EXPECT_GT(result.val_pairs, 0u);

  PreparedHeader header = read_prepared_header(work_.file("p.h5"));
  EXPECT_EQ(header.fingerprint, result.fingerprint);
  EXPECT_EQ(header.fingerprint.size(), 64u);
  EXPECT_EQ(header.source_sha256, result.source_sha256);
  EXPECT_EQ(header.tokenizer_sha256, Tokenizer::from_model_file(tokenizer_).sha256());
  EXPECT_EQ(header.template_sha256, result.template_sha256);
  EXPECT_NE(header.template_text.find("<|im_start|>"), std::string::npos);
  EXPECT_EQ(header.max_length, 256);
  EXPECT_NE(header.options_json.find("\"max_length\":256"), std::string::npos)
      << header.options_json;
  ASSERT_EQ(header.source_files.size(), 1u);
  EXPECT_NE(header.created_by.find("dpo"), std::string::npos);
  // The validation report travels with the file (a run copies it for its report page).
  EXPECT_NE(header.validation_json.find("\"rows\": 40"), std::string::npos)
      << header.validation_json;
  EXPECT_EQ(header.validation_json, report_to_json(result.validation));

  PreparedDataset data = read_prepared_dataset(work_.file("p.h5"));
  EXPECT_EQ(data.train.size(), result.train_pairs);
  EXPECT_EQ(data.val.size(), result.val_pairs);
}

TEST_F(PrepareTest, EachPairKeepsItsRowsMetadata) {
  // Every third row carries provenance; the rest none. Each stored pair is matched back to its
  // row by id, in either split.
  std::string text;
  std::istringstream lines(rows(30));
  int i = 0;
  for (std::string line; std::getline(lines, line); ++i) {
    if (i % 3 == 0) {
      line.pop_back();  // the closing brace
      line += R"(, "metadata": {"reviewer": "r)" + std::to_string(i % 2) +
              R"(", "rubric": "concise"}})";
    }
    text += line + "\n";
  }
  testing::write_file(work_.file("d.jsonl"), text);
  prepare_dataset(options(work_.file("d.jsonl"), work_.file("p.h5")));
  PreparedDataset data = read_prepared_dataset(work_.file("p.h5"));
  size_t with_metadata = 0;
  for (const PreparedSplit* split : {&data.train, &data.val}) {
    ASSERT_EQ(split->metadata.size(), split->size());
    for (size_t p = 0; p < split->size(); ++p) {
      const int row_index = std::stoi(split->row_ids[p].substr(1));  // "r12" -> 12
      if (row_index % 3 == 0) {
        EXPECT_EQ(
            split->metadata[p],
            R"({"reviewer":"r)" + std::to_string(row_index % 2) + R"(","rubric":"concise"})");
        ++with_metadata;
      } else {
        EXPECT_EQ(split->metadata[p], "") << split->row_ids[p];
      }
    }
  }
  EXPECT_EQ(with_metadata, 10u);
}

TEST_F(PrepareTest, SameInputsAreANoOpThatLeavesTheFileAlone) {
  testing::write_file(work_.file("d.jsonl"), rows(30));
  PrepareOptions o = options(work_.file("d.jsonl"), work_.file("p.h5"));
  PrepareResult first = prepare_dataset(o);
  auto written = fs::last_write_time(o.out_path);
  auto inode_size = fs::file_size(o.out_path);

  PrepareResult again = prepare_dataset(o);
  EXPECT_TRUE(again.reused);
  EXPECT_EQ(again.fingerprint, first.fingerprint);
  EXPECT_EQ(again.train_pairs, first.train_pairs);
  EXPECT_EQ(again.val_pairs, first.val_pairs);
  EXPECT_EQ(fs::last_write_time(o.out_path), written);
  EXPECT_EQ(fs::file_size(o.out_path), inode_size);
  EXPECT_NE(prepare_summary(again, o.out_path).find("up to date"), std::string::npos);

  o.force = true;  // --force rewrites even so
  EXPECT_FALSE(prepare_dataset(o).reused);
}

TEST_F(PrepareTest, AnotherOptionOrOtherDataRewritesTheFile) {
  testing::write_file(work_.file("d.jsonl"), rows(30));
  PrepareOptions o = options(work_.file("d.jsonl"), work_.file("p.h5"));
  PrepareResult first = prepare_dataset(o);

  o.max_length = 200;
  PrepareResult shorter = prepare_dataset(o);
  EXPECT_FALSE(shorter.reused);
  EXPECT_NE(shorter.fingerprint, first.fingerprint);
  EXPECT_EQ(read_prepared_header(o.out_path).max_length, 200);

  testing::write_file(work_.file("d.jsonl"), rows(31));  // one more row
  PrepareResult more = prepare_dataset(o);
  EXPECT_FALSE(more.reused);
  EXPECT_NE(more.source_sha256, shorter.source_sha256);
  EXPECT_EQ(read_prepared_header(o.out_path).fingerprint, more.fingerprint);
  EXPECT_EQ(more.train_pairs + more.val_pairs, 31u);
}

TEST_F(PrepareTest, LengthPolicyCountsAreReported) {
  testing::write_file(work_.file("d.jsonl"), rows(40, 4));  // 10 rows with a long chosen answer
  PrepareOptions o = options(work_.file("d.jsonl"), work_.file("drop.h5"));
  o.max_length = 120;
  PrepareResult dropped = prepare_dataset(o);
  int64_t over = dropped.train_counts.over_length + dropped.val_counts.over_length;
  EXPECT_EQ(over, 10);
  EXPECT_EQ(dropped.train_counts.dropped_too_long + dropped.val_counts.dropped_too_long, 10);
  EXPECT_EQ(dropped.train_pairs + dropped.val_pairs, 30u);
  std::string summary = prepare_summary(dropped, o.out_path);
  EXPECT_NE(summary.find("over max length"), std::string::npos) << summary;
  EXPECT_NE(summary.find("too_long"), std::string::npos) << summary;

  o.out_path = work_.file("cut.h5");
  o.length_policy = LengthPolicy::truncate_completion;
  PrepareResult cut = prepare_dataset(o);
  EXPECT_EQ(cut.train_counts.completion_truncated + cut.val_counts.completion_truncated, 10);
  EXPECT_EQ(cut.train_pairs + cut.val_pairs, 40u);
  PreparedDataset data = read_prepared_dataset(o.out_path);
  size_t flagged = 0;
  for (const PreparedSplit* split : {&data.train, &data.val}) {
    for (size_t i = 0; i < split->size(); ++i) {
      flagged += split->flags[i] != 0;
      EXPECT_LE(split->chosen_length(i), 120);  // prompt + chosen completion
      EXPECT_LE(split->rejected_length(i), 120);
    }
  }
  EXPECT_EQ(flagged, 10u);
  std::string cut_summary = prepare_summary(cut, o.out_path);
  EXPECT_NE(
      cut_summary.find(
          "completion truncated " + std::to_string(cut.train_counts.completion_truncated)),
      std::string::npos)
      << cut_summary;

  o.out_path = work_.file("error.h5");
  o.length_policy = LengthPolicy::error;
  EXPECT_THROW(prepare_dataset(o), Error);
  EXPECT_FALSE(fs::exists(o.out_path));
}

// llama2's template raises when roles do not alternate; the row is reported, the rest kept.
TEST_F(PrepareTest, RowsThatBreakTheTemplateAreReportedWithTheirLine) {
  std::string data = rows(20);
  data +=
      R"({"id": "odd", "prompt": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}, {"role": "user", "content": "again"}, {"role": "user", "content": "and again"}], "chosen": [{"role": "assistant", "content": "yes"}], "rejected": [{"role": "assistant", "content": "no"}]})"
      "\n";
  testing::write_file(work_.file("d.jsonl"), data);
  PrepareOptions o = options(work_.file("d.jsonl"), work_.file("p.h5"));
  o.template_spec = "llama2";
  PrepareResult result = prepare_dataset(o);
  EXPECT_EQ(result.train_counts.template_errors + result.val_counts.template_errors, 1);
  EXPECT_EQ(result.train_pairs + result.val_pairs, 20u);
  ASSERT_EQ(result.issues.size(), 1u);
  EXPECT_EQ(result.issues[0].code, "template_error");
  EXPECT_EQ(result.issues[0].where, work_.file("d.jsonl") + ":21");
  EXPECT_NE(result.issues[0].message.find("alternate"), std::string::npos)
      << result.issues[0].message;
  std::string summary = prepare_summary(result, o.out_path);
  EXPECT_NE(summary.find("template errors 1"), std::string::npos) << summary;
  EXPECT_NE(summary.find("template_error " + work_.file("d.jsonl") + ":21"), std::string::npos)
      << summary;
  EXPECT_EQ(
      summary.find(work_.file("d.jsonl") + ":21: " + work_.file("d.jsonl") + ":21"),
      std::string::npos)
      << "the location is printed once\n"
      << summary;
}

TEST_F(PrepareTest, ATokenizerWithoutATemplateIsAUsageError) {
  testing::write_file(work_.file("d.jsonl"), rows(5));
  PrepareOptions o = options(work_.file("d.jsonl"), work_.file("p.h5"));
  o.template_spec.clear();
  EXPECT_THROW(prepare_dataset(o), UsageError);
  o.template_spec = "chatml";
  o.model_dir = dir_->path();  // both a model and a tokenizer
  EXPECT_THROW(prepare_dataset(o), UsageError);
  EXPECT_FALSE(fs::exists(o.out_path));
}

// Nothing left to train on: an error, and neither the file nor a temporary one is left behind.
TEST_F(PrepareTest, AFailedPreparationLeavesNoFile) {
  std::string data;
  for (int i = 0; i < 5; ++i)
    data += row("same" + std::to_string(i), "hello " + std::to_string(i), "same", "same");
  testing::write_file(work_.file("d.jsonl"), data);
  PrepareOptions o = options(work_.file("d.jsonl"), work_.file("out/p.h5"));
  EXPECT_THROW(prepare_dataset(o), DataError);
  EXPECT_FALSE(fs::exists(o.out_path));
  if (fs::exists(work_.file("out"))) {
    EXPECT_TRUE(fs::is_empty(work_.file("out")));
  }
  for (const auto& entry : fs::directory_iterator(work_.path())) {
    EXPECT_EQ(entry.path().filename().string().find("p.h5"), std::string::npos) << entry.path();
  }
}

// A failure must not destroy a good file prepared earlier under the same name.
TEST_F(PrepareTest, AFailedRewriteKeepsThePreviousFile) {
  testing::write_file(work_.file("d.jsonl"), rows(20));
  PrepareOptions o = options(work_.file("d.jsonl"), work_.file("p.h5"));
  PrepareResult good = prepare_dataset(o);
  std::string data;
  for (int i = 0; i < 5; ++i)
    data += row("same" + std::to_string(i), "hello " + std::to_string(i), "same", "same");
  testing::write_file(work_.file("d.jsonl"), data);
  EXPECT_THROW(prepare_dataset(o), DataError);
  EXPECT_EQ(read_prepared_header(o.out_path).fingerprint, good.fingerprint);
}

std::string usage_error_of(const std::function<void()>& body) {
  try {
    body();
  } catch (const UsageError& error) {
    return std::string(error.what()) + "\n" + error.hint();
  }
  return "no UsageError";
}

// --out naming an input is refused, whatever the path that leads to it; so is an existing file
// that is not a prepared file, unless --overwrite. An existing prepared file is replaced.
TEST_F(PrepareTest, AnOutputThatIsAnInputOrNotAPreparedFileIsRefused) {
  const std::string data = work_.file("d.jsonl");
  const std::string text = rows(20);
  testing::write_file(data, text);
  auto expect_input_intact = [&] { EXPECT_EQ(testing::read_file(data), text); };

  // The input itself, by the same path and by other paths to the same file.
  std::string message = usage_error_of([&] { prepare_dataset(options(data, data)); });
  EXPECT_NE(message.find("--out '" + data + "' is the input '" + data + "'"), std::string::npos)
      << message;
  fs::create_symlink(data, work_.file("link.h5"));
  fs::create_hard_link(data, work_.file("hard.h5"));
  fs::create_directory(work_.file("sub"));
  for (const std::string& out :
       {work_.file("link.h5"), work_.file("hard.h5"), work_.file("sub/../d.jsonl")}) {
    PrepareOptions o = options(data, out);
    o.overwrite = true;  // never allowed for an input
    o.force = true;
    message = usage_error_of([&] { prepare_dataset(o); });
    EXPECT_NE(message.find("(the same file by another path or link)"), std::string::npos)
        << out << ": " << message;
    expect_input_intact();
  }
  // The tokenizer is an input too.
  PrepareOptions on_tokenizer = options(data, tokenizer_);
  on_tokenizer.overwrite = true;
  EXPECT_NE(
      usage_error_of([&] { prepare_dataset(on_tokenizer); }).find("is the input"),
      std::string::npos);

  // Some other text file: refused unless --overwrite.
  const std::string notes = work_.file("notes.txt");
  testing::write_file(notes, "keep me\n");
  message = usage_error_of([&] { prepare_dataset(options(data, notes)); });
  EXPECT_NE(
      message.find("--out '" + notes + "' exists and is not a prepared file (not an HDF5 file)"),
      std::string::npos)
      << message;
  EXPECT_NE(message.find("--overwrite"), std::string::npos) << message;
  EXPECT_EQ(testing::read_file(notes), "keep me\n");
  PrepareOptions replace = options(data, notes);
  replace.overwrite = true;
  prepare_dataset(replace);
  EXPECT_EQ(not_a_prepared_file(notes), "");

  // A folder.
  EXPECT_NE(
      usage_error_of([&] {
        prepare_dataset(options(data, work_.file("sub")));
      }).find("is a folder"),
      std::string::npos);

  // An existing prepared file (of other options) is replaced atomically, as before.
  const std::string out = work_.file("p.h5");
  PrepareOptions first = options(data, out);
  first.validate.seed = 1;
  prepare_dataset(first);
  PrepareResult second = prepare_dataset(options(data, out));
  EXPECT_FALSE(second.reused);
  EXPECT_EQ(read_prepared_header(out).fingerprint, second.fingerprint);
  for (const auto& entry : fs::directory_iterator(work_.path())) {
    EXPECT_EQ(entry.path().filename().string().find(".tmp."), std::string::npos) << entry.path();
  }
  expect_input_intact();
}

// A template that renders nothing for a completion gives it 0 tokens: that row is a row-level
// issue with its line, not a pair that is trained; the others are kept.
TEST_F(PrepareTest, EmptyCompletionsAfterTheTemplateAreRowIssues) {
  std::string data = rows(10);
  data += row("silent-chosen", "please help with order number 5", "SILENT", "no idea, sorry");
  data += row("silent-rejected", "please help with order number 6", "the steps", "SILENT");
  testing::write_file(work_.file("d.jsonl"), data);
  // Every message's content, except the assistant's "SILENT".
  testing::write_file(
      work_.file("t.jinja"),
      "{% for m in messages %}{% if m.content != 'SILENT' %}{{ m.role }}: {{ m.content }}\n"
      "{% endif %}{% endfor %}");
  PrepareOptions o = options(work_.file("d.jsonl"), work_.file("p.h5"));
  o.template_spec = work_.file("t.jinja");
  o.validate.val_fraction = 0;
  PrepareResult result = prepare_dataset(o);
  EXPECT_EQ(result.train_pairs, 10u);
  EXPECT_EQ(result.train_counts.empty_completions, 2);
  ASSERT_EQ(result.issues.size(), 2u);
  EXPECT_EQ(result.issues[0].code, "empty_chosen");
  EXPECT_EQ(result.issues[0].where, work_.file("d.jsonl") + ":11");
  EXPECT_EQ(result.issues[1].code, "empty_rejected");
  EXPECT_EQ(result.issues[1].where, work_.file("d.jsonl") + ":12");
  std::string summary = prepare_summary(result, o.out_path);
  EXPECT_NE(summary.find("empty completions 2"), std::string::npos) << summary;
  PreparedDataset prepared = read_prepared_dataset(o.out_path);
  for (size_t i = 0; i < prepared.train.size(); ++i) {
    EXPECT_GT(prepared.train.pair(i).chosen.size, 0u);
    EXPECT_GT(prepared.train.pair(i).rejected.size, 0u);
  }
}

}  // namespace
}  // namespace dpo
