// The two executables (tools/cli_main.h): `dpo` runs without LibTorch and hands the LibTorch
// commands to `dpo-torch` with execv().
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "tests/support/test_support.h"

namespace dpo {
namespace {

using testing::run_command;

const std::string kDpo = DPO_BINARY_PATH;
const std::string kDpoTorch = DPO_TORCH_BINARY_PATH;
const std::string kExamples = std::string(DPO_SOURCE_DIR) + "/examples/support";

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// From "Options:" on: the usage line before it names argv[0].
std::string help_body(const std::string& help) {
  size_t start = help.find("Options:");
  return start == std::string::npos ? help : help.substr(start);
}

TEST(Startup, DpoDoesNotLoadLibTorch) {
  auto needed = run_command("readelf -d " + kDpo);
  ASSERT_EQ(needed.exit_code, 0) << needed.output;
  EXPECT_TRUE(contains(needed.output, "(NEEDED)")) << needed.output;
  // ldd lists what is loaded at start-up, dependencies of dependencies included.
  auto loaded = run_command("ldd " + kDpo);
  ASSERT_EQ(loaded.exit_code, 0) << loaded.output;
  EXPECT_FALSE(contains(loaded.output, "libtorch")) << loaded.output;
  EXPECT_FALSE(contains(loaded.output, "libc10")) << loaded.output;
  auto torch = run_command("ldd " + kDpoTorch);
  EXPECT_TRUE(contains(torch.output, "libtorch")) << torch.output;
}

TEST(Startup, VersionNamesTheLibTorchBuiltAgainst) {
  auto result = run_command(kDpo + " --version");
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(contains(result.output, "dpo 0.")) << result.output;
  EXPECT_TRUE(contains(result.output, "LibTorch " DPO_TORCH_BUILD_VERSION)) << result.output;
  EXPECT_FALSE(contains(result.output, "scaled_dot_product_attention")) << result.output;
}

TEST(Startup, VerboseVersionShowsTheLibTorchRuntime) {
  auto result = run_command(kDpo + " --version --verbose");
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(contains(result.output, "dpo 0.")) << result.output;
  EXPECT_TRUE(contains(result.output, "scaled_dot_product_attention: ")) << result.output;
  // dpo-torch allocates with tcmalloc where the build found it (cmake/Dependencies.cmake).
  EXPECT_TRUE(contains(result.output, DPO_TCMALLOC_LINKED ? "malloc: tcmalloc " : "malloc: glibc"))
      << result.output;
}

TEST(Startup, HelpListsTheSameCommandsAsTheTorchExecutable) {
  auto dpo = run_command(kDpo + " --help");
  auto torch = run_command(kDpoTorch + " --help");
  ASSERT_EQ(dpo.exit_code, 0) << dpo.output;
  ASSERT_EQ(torch.exit_code, 0) << torch.output;
  for (const char* command :
       {"validate",
        "template",
        "prepare",
        "inspect",
        "train-tokenizer",
        "init-model",
        "import-llama2c",
        "score",
        "train",
        "eval",
        "check",
        "compare",
        "report"}) {
    EXPECT_TRUE(contains(dpo.output, std::string("\n  ") + command + " ")) << command;
  }
  // The descriptions dpo shows for the LibTorch commands are the commands' own.
  EXPECT_EQ(help_body(dpo.output), help_body(torch.output));
}

TEST(Startup, TorchCommandHelpGoesThroughDpo) {
  auto result = run_command(kDpo + " train --help");
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(contains(result.output, "--config")) << result.output;
  EXPECT_TRUE(contains(result.output, "dpo train")) << result.output;
  EXPECT_FALSE(contains(result.output, "dpo-torch")) << result.output;
}

TEST(Startup, TorchCommandThroughDpoRunsAndReturnsItsExitCode) {
  testing::TempDir dir;
  std::string tokenizer = testing::train_tiny_sentencepiece(
      dir, {"the quick brown fox jumps over the lazy dog", "a helpful answer explains why"}, 60);
  // --log-level's value must not be taken for the command.
  auto ok = run_command(
      kDpo + " --log-level warn init-model --preset tiny --tokenizer " + tokenizer +
      " --template chatml --seed 1 --out " + dir.file("model"));
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_TRUE(std::filesystem::exists(dir.file("model/config.json"))) << ok.output;

  auto missing = run_command(
      kDpo + " eval --model " + dir.file("model") + " --data " + dir.file("missing.h5"));
  EXPECT_EQ(missing.exit_code, 2) << missing.output;
  EXPECT_TRUE(contains(missing.output, "dpo eval: error")) << missing.output;

  auto usage = run_command(kDpo + " score --no-such-flag");
  EXPECT_EQ(usage.exit_code, 2) << usage.output;
}

TEST(Startup, TorchFreeCommandsRunInDpo) {
  auto result = run_command(kDpo + " validate " + kExamples + "/pairs.jsonl");
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(contains(result.output, "PASS")) << result.output;
  auto broken = run_command(kDpo + " validate " + kExamples + "/broken.jsonl");
  EXPECT_EQ(broken.exit_code, 1) << broken.output;
}

TEST(Startup, MissingTorchExecutableIsAClearError) {
  testing::TempDir dir;
  std::filesystem::copy_file(kDpo, dir.file("dpo"));
  std::filesystem::permissions(dir.file("dpo"), std::filesystem::perms::owner_all);
  auto version = run_command(dir.file("dpo") + " --version");
  EXPECT_EQ(version.exit_code, 0) << version.output;
  auto validate = run_command(dir.file("dpo") + " validate " + kExamples + "/pairs.jsonl");
  EXPECT_EQ(validate.exit_code, 0) << validate.output;

  auto train = run_command(dir.file("dpo") + " train --config x.json");
  EXPECT_EQ(train.exit_code, 2) << train.output;
  EXPECT_TRUE(contains(train.output, "dpo train: error")) << train.output;
  EXPECT_TRUE(contains(train.output, "dpo-torch")) << train.output;
  EXPECT_TRUE(contains(train.output, dir.file("dpo-torch"))) << train.output;
  EXPECT_TRUE(contains(train.output, "libexec/dpo/dpo-torch")) << train.output;
}

}  // namespace
}  // namespace dpo
