// dpo prepare, score and inspect where writing or reading goes wrong (issue 20): a full disk (a
// small tmpfs mounted in a private user + mount namespace), an --out that is an input, a model
// whose limits the data exceeds, a prepared file with an empty completion. Exit codes, messages
// and the files left behind, as a user sees them.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "dataloader/pair_encoder.h"
#include "dataloader/prepared_dataset.h"
#include "tests/support/test_support.h"
#include "tests/tools/tiny_pipeline.h"

namespace dpo {
namespace {

namespace fs = std::filesystem;
using testing::run_command;
using testing::tiny_pipeline;

const std::string kDpo = DPO_BINARY_PATH;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Runs `script` with sh in a private user + mount namespace, after mounting a tmpfs of `bytes`
// on `mount_dir`. Returns nullopt (and the reason) when this machine does not allow it.
std::optional<testing::CommandResult> on_small_disk(
    const testing::TempDir& dir,
    const std::string& mount_dir,
    uint64_t bytes,
    const std::string& script,
    std::string* why_not) {
  fs::create_directories(mount_dir);
  const std::string path = dir.file("script.sh");
  testing::write_file(
      path,
      "mount -t tmpfs -o size=" + std::to_string(bytes) + " tmpfs '" + mount_dir +
          "' || exit 99\n" + script);
  testing::CommandResult result = run_command("unshare -r -m sh " + path + " 2>&1");
  if (result.exit_code == 99 || contains(result.output, "unshare:")) {
    *why_not = "cannot mount a tmpfs in a user namespace here: " + result.output;
    return std::nullopt;
  }
  return result;
}

uint64_t rounded_up(uint64_t bytes) {
  return (bytes + 4095) / 4096 * 4096;
}

// A pid that surely belongs to no process: a child that exited and was waited for.
pid_t dead_pid() {
  pid_t child = ::fork();
  if (child == 0)
    _exit(0);
  ::waitpid(child, nullptr, 0);
  return child;
}

TEST(DataFilesCli, ADiskFullDuringPrepareIsExit2AndLeavesThePreviousFile) {
  const auto& p = tiny_pipeline();
  testing::TempDir dir;
  const std::string mnt = dir.file("mnt");
  const std::string out = mnt + "/x.h5";
  const std::string prepare = kDpo + " prepare --data " + p.data + " --model " + p.model +
                              " --max-length 384 --threads 1 --force --out " + out;
  // Room for the previous file and 16 KiB: the rewrite cannot fit.
  const uint64_t size = rounded_up(fs::file_size(p.prepared)) + 16384;
  std::string why_not;
  auto result = on_small_disk(
      dir,
      mnt,
      size,
      "cp " + p.prepared + " " + out + " || exit 98\n" + "touch " + out + ".tmp." +
          std::to_string(dead_pid()) + ".0\n" + prepare + "\necho \"exit=$?\"\ncmp " + p.prepared +
          " " + out + " && echo intact\necho listing:\nls -a " + mnt + "\n",
      &why_not);
  if (!result)
    GTEST_SKIP() << why_not;
  const std::string& output = result->output;
  EXPECT_TRUE(contains(output, "exit=2")) << output;
  EXPECT_TRUE(contains(output, "cannot write '" + out + "'")) << output;
  EXPECT_TRUE(contains(output, "No space left on device")) << output;
  EXPECT_TRUE(contains(output, "the previous '" + out + "' is unchanged")) << output;
  EXPECT_TRUE(contains(output, "intact")) << output;
  EXPECT_TRUE(contains(output, "a temporary file left by process")) << output;
  ASSERT_TRUE(contains(output, "listing:")) << output;
  EXPECT_FALSE(contains(output.substr(output.find("listing:")), ".tmp."))
      << "a temporary file was left behind:\n"
      << output;
  EXPECT_FALSE(contains(output, "internal error")) << output;

  // No previous file, and a disk too small for the new one.
  auto fresh = on_small_disk(
      dir, mnt, 65536, prepare + "\necho \"exit=$?\"\nls -a " + mnt + " | wc -l\n", &why_not);
  ASSERT_TRUE(fresh) << why_not;
  EXPECT_TRUE(contains(fresh->output, "exit=2")) << fresh->output;
  EXPECT_TRUE(contains(fresh->output, "No space left on device")) << fresh->output;
  EXPECT_TRUE(contains(fresh->output, "no file was written")) << fresh->output;
  EXPECT_TRUE(contains(fresh->output, "\n2\n")) << "only . and .. are left:\n" << fresh->output;
}

TEST(DataFilesCli, ADiskFullWhileCachingReferenceLogpsKeepsTheValues) {
  const auto& p = tiny_pipeline();
  testing::TempDir dir;
  const std::string mnt = dir.file("mnt");
  const std::string kept = dir.file("kept");
  fs::create_directories(kept);
  const std::string out = mnt + "/x.h5";
  const uint64_t size = rounded_up(fs::file_size(p.prepared)) + 16384;
  std::string why_not;
  auto result = on_small_disk(
      dir,
      mnt,
      size,
      "cp " + p.prepared + " " + out + " || exit 98\nTMPDIR=" + kept + " " + kDpo +
          " score --model " + p.model + " --data " + out +
          " --write-reference --threads 1\necho \"exit=$?\"\ncmp " + p.prepared + " " + out +
          " && echo intact\n",
      &why_not);
  if (!result)
    GTEST_SKIP() << why_not;
  const std::string& output = result->output;
  EXPECT_TRUE(contains(output, "exit=2")) << output;
  EXPECT_TRUE(contains(output, "caching reference log-probs in '" + out + "' failed")) << output;
  EXPECT_TRUE(contains(output, "No space left on device")) << output;
  EXPECT_TRUE(contains(output, "the prepared file is unchanged")) << output;
  EXPECT_TRUE(contains(output, "intact")) << output;
  EXPECT_FALSE(contains(output, "H5Fopen")) << output;

  // The values were kept; importing them into a copy of the file caches exactly what a write
  // with room would have cached.
  std::vector<std::string> sidecars;
  for (const auto& entry : fs::directory_iterator(kept))
    sidecars.push_back(entry.path().string());
  ASSERT_EQ(sidecars.size(), 1u) << output;
  EXPECT_TRUE(contains(output, sidecars[0])) << output;
  const std::string roomy = dir.file("x.h5");
  fs::copy_file(p.prepared, roomy);
  auto imported = run_command(
      kDpo + " prepare --out " + roomy + " --import-reference " + sidecars[0] + " 2>&1");
  EXPECT_EQ(imported.exit_code, 0) << imported.output;
  const std::string direct = dir.file("direct.h5");
  fs::copy_file(p.prepared, direct);
  auto scored = run_command(
      kDpo + " score --model " + p.model + " --data " + direct +
      " --write-reference --threads 1 2>&1");
  ASSERT_EQ(scored.exit_code, 0) << scored.output;
  std::vector<std::string> hashes = list_reference_logps(direct);
  ASSERT_EQ(hashes.size(), 1u);
  EXPECT_EQ(list_reference_logps(roomy), hashes);
  auto inspected = run_command(kDpo + " inspect " + roomy + " 2>&1");
  EXPECT_EQ(inspected.exit_code, 0) << inspected.output;
  EXPECT_TRUE(contains(inspected.output, hashes[0] + " (verified)")) << inspected.output;
  auto a = read_reference_logps(roomy, hashes[0]);
  auto b = read_reference_logps(direct, hashes[0]);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->train.chosen_logps, b->train.chosen_logps);
  EXPECT_EQ(a->val.rejected_logps, b->val.rejected_logps);
  EXPECT_EQ(a->train.chosen_tokens, b->train.chosen_tokens);

  // Into another prepared file: refused by fingerprint.
  const std::string other = dir.file("other.h5");
  auto prepared_other = run_command(
      kDpo + " prepare --data " + p.data + " --model " + p.model +
      " --max-length 384 --seed 7 --threads 1 --out " + other + " 2>&1");
  ASSERT_EQ(prepared_other.exit_code, 0) << prepared_other.output;
  auto wrong = run_command(
      kDpo + " prepare --out " + other + " --import-reference " + sidecars[0] + " 2>&1");
  EXPECT_EQ(wrong.exit_code, 2) << wrong.output;
  EXPECT_TRUE(contains(wrong.output, "of another prepared file")) << wrong.output;
}

TEST(DataFilesCli, AnOutputThatIsAnInputIsRefused) {
  const auto& p = tiny_pipeline();
  testing::TempDir dir;
  const std::string data = dir.file("d.jsonl");
  fs::copy_file(p.data, data);
  const std::string original = testing::read_file(data);
  fs::create_symlink(data, dir.file("link.h5"));
  const std::string base =
      kDpo + " prepare --data " + data + " --model " + p.model + " --max-length 384 --out ";
  for (const std::string& out : {data, dir.file("link.h5")}) {
    auto result = run_command(base + out + " --overwrite --force 2>&1");
    EXPECT_EQ(result.exit_code, 2) << result.output;
    EXPECT_TRUE(contains(result.output, "--out '" + out + "' is the input '" + data + "'"))
        << result.output;
    EXPECT_EQ(testing::read_file(data), original);
  }
  const std::string notes = dir.file("notes.txt");
  testing::write_file(notes, "keep\n");
  auto refused = run_command(base + notes + " 2>&1");
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_TRUE(contains(refused.output, "exists and is not a prepared file")) << refused.output;
  EXPECT_EQ(testing::read_file(notes), "keep\n");
  auto replaced = run_command(base + notes + " --overwrite 2>&1");
  EXPECT_EQ(replaced.exit_code, 0) << replaced.output;
  EXPECT_EQ(not_a_prepared_file(notes), "");
}

// A copy of the tiny model whose config.json has `key` set to `value`.
std::string model_with(const testing::TempDir& dir, const std::string& key, int64_t value) {
  const auto& p = tiny_pipeline();
  const std::string model = dir.file("model-" + key + "-" + std::to_string(value));
  fs::copy(p.model, model, fs::copy_options::recursive);
  nlohmann::json config = nlohmann::json::parse(testing::read_file(model + "/config.json"));
  config[key] = value;
  testing::write_file(model + "/config.json", config.dump(2));
  return model;
}

TEST(DataFilesCli, TheModelsVocabularyAndPositionsBoundWhatIsPrepared) {
  const auto& p = tiny_pipeline();
  testing::TempDir dir;
  const std::string small_vocab = model_with(dir, "vocab_size", 100);
  auto result = run_command(
      kDpo + " prepare --data " + p.data + " --model " + small_vocab + " --max-length 384 --out " +
      dir.file("a.h5") + " 2>&1");
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_TRUE(contains(result.output, "has 800 ids")) << result.output;
  EXPECT_TRUE(contains(result.output, "'" + small_vocab + "/config.json' has vocab_size 100"))
      << result.output;
  EXPECT_FALSE(fs::exists(dir.file("a.h5")));

  const std::string short_model = model_with(dir, "max_position_embeddings", 256);
  result = run_command(
      kDpo + " prepare --data " + p.data + " --model " + short_model + " --max-length 384 --out " +
      dir.file("b.h5") + " 2>&1");
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_TRUE(contains(
      result.output,
      "--max-length 384 is over max_position_embeddings 256 in '" + short_model + "/config.json'"))
      << result.output;
  EXPECT_TRUE(contains(result.output, "pass --max-length 256 or less")) << result.output;
  result = run_command(
      kDpo + " prepare --data " + p.data + " --model " + short_model +
      " --max-length 256 --threads 1 --out " + dir.file("b.h5") + " 2>&1");
  EXPECT_EQ(result.exit_code, 0) << result.output;

  const std::string broken = model_with(dir, "vocab_size", -3);
  result = run_command(
      kDpo + " prepare --data " + p.data + " --model " + broken + " --max-length 384 --out " +
      dir.file("c.h5") + " 2>&1");
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_TRUE(contains(result.output, "vocab_size must be a positive integer")) << result.output;
}

TEST(DataFilesCli, InspectRefusesAPairWithAnEmptyCompletion) {
  const auto& p = tiny_pipeline();
  testing::TempDir dir;
  PreparedDataset data = read_prepared_dataset(p.prepared);
  ASSERT_GT(data.train.size(), 3u);
  PreparedSplit train;
  for (size_t i = 0; i < data.train.size(); ++i) {
    PairTokens tokens = data.train.pair(i);
    EncodedPair pair{
        tokens.prompt.to_vector(),
        tokens.chosen.to_vector(),
        tokens.rejected.to_vector(),
        data.train.flags[i]};
    if (i == 3)
      pair.chosen.clear();
    train.add(pair, data.train.source_file[i], data.train.source_line[i], data.train.row_ids[i]);
  }
  const std::string path = dir.file("empty.h5");
  write_prepared_dataset(path, data.header, train, data.val);
  auto result = run_command(kDpo + " inspect " + path + " 2>&1");
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_TRUE(contains(result.output, "train pair 3 (id '" + data.train.row_ids[3] + "'"))
      << result.output;
  EXPECT_TRUE(contains(result.output, "has an empty chosen completion (0 tokens)"))
      << result.output;
  EXPECT_FALSE(contains(result.output, "verified")) << result.output;
}

}  // namespace
}  // namespace dpo
