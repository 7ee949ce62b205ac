// `dpo plan` and the plan of `dpo train`, run as a user runs them; and the estimate against the
// peak a real `dpo train` measures (peak_memory_mib in metrics.jsonl), which must agree within
// 15% on the CPU. Each measured run is a child process, so its resident peak is its own.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "model/model_config.h"
#include "tests/support/test_support.h"
#include "tests/tools/tiny_pipeline.h"

namespace dpo {
namespace {

using testing::dpo_binary;
using testing::run_command;
using Json = nlohmann::json;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Llama-3-8B's config.json (no weights): what `dpo plan --model` reads.
std::string write_llama3_8b(const testing::TempDir& dir) {
  const std::string folder = dir.file("llama3-8b");
  std::filesystem::create_directories(folder);
  testing::write_file(folder + "/config.json", R"({
  "architectures": ["LlamaForCausalLM"], "model_type": "llama",
  "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
  "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 128256,
  "max_position_embeddings": 8192, "rms_norm_eps": 1e-5, "rope_theta": 500000.0,
  "hidden_act": "silu", "tie_word_embeddings": false, "torch_dtype": "bfloat16",
  "bos_token_id": 128000, "eos_token_id": 128001
})");
  return folder;
}

std::string write_config(const testing::TempDir& dir, const std::string& json) {
  testing::write_file(dir.file("config.json"), json);
  return dir.file("config.json");
}

const char* kCudaBf16Config = R"({
  "data": {"max_length": 1024},
  "train": {"device": "cuda", "dtype": "bf16", "micro_batch_pairs": 4}
})";

TEST(PlanCli, Llama3_8BFullTrainingDoesNotFit24GiBAndLoraIsOffered) {
  testing::TempDir dir;
  const std::string model = write_llama3_8b(dir);
  auto result = run_command(
      dpo_binary() + " plan --model " + model + " --config " + write_config(dir, kCudaBf16Config) +
      " --gpu-memory 24GiB");
  EXPECT_EQ(result.exit_code, 1) << result.output;
  for (const char* part :
       {"8030261248 parameters",
        "weights",
        "gradients",
        "optimizer state",
        "master weights",
        "activations",
        "logits chunk",
        "reference model",
        "does NOT fit into 24.00 GiB",
        "settings that fit",
        "LoRA r=16",
        "--set 'lora.enabled=true'"})
    EXPECT_TRUE(contains(result.output, part)) << part << "\n" << result.output;
  // No LibTorch in the process that answered.
  EXPECT_FALSE(contains(result.output, "dpo-torch"));
}

TEST(PlanCli, JsonBreakdownSumsToThePeakAndFitsWhenThereIsRoom) {
  testing::TempDir dir;
  const std::string model = write_llama3_8b(dir);
  auto result = run_command(
      dpo_binary() + " plan --model " + model + " --config " + write_config(dir, kCudaBf16Config) +
      " --set lora.enabled=true --set train.micro_batch_pairs=1 --gpu-memory 80GiB --json 2>&1");
  // Until the config has a lora section, --set lora.* is an unknown key: plan the full run.
  if (result.exit_code == 2 && contains(result.output, "unknown section 'lora'")) {
    result = run_command(
        dpo_binary() + " plan --model " + model + " --config " +
        write_config(dir, kCudaBf16Config) +
        " --set train.micro_batch_pairs=1 --gpu-memory 400GiB --json");
  }
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const Json plan = Json::parse(result.output);
  int64_t sum = 0;
  for (const Json& term : plan["plan"]["terms"])
    sum += term["bytes"].get<int64_t>();
  EXPECT_EQ(sum, plan["plan"]["peak_bytes"].get<int64_t>());
  EXPECT_EQ(plan["fits"], true);
  EXPECT_EQ(plan["device"], "cuda");
  EXPECT_GT(
      plan["plan"]["activations_bytes"].get<int64_t>(),
      plan["plan"]["activations_checkpointed_bytes"].get<int64_t>());
}

TEST(PlanCli, TinyLlama1BPresetPlansFromItsConfigJson) {
  testing::TempDir dir;
  const std::string folder = dir.file("tinyllama");
  std::filesystem::create_directories(folder);
  write_model_config(folder + "/config.json", model_config_preset("tinyllama-1b", 32000));
  auto result = run_command(
      dpo_binary() + " plan --model " + folder + " --config " +
      write_config(
          dir, R"({"train": {"device": "cuda", "dtype": "bf16", "micro_batch_pairs": 2}})") +
      " --gpu-memory 80GiB --json");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const Json plan = Json::parse(result.output);
  const int64_t p = model_config_preset("tinyllama-1b", 32000).num_parameters();
  EXPECT_EQ(plan["plan"]["total_parameters"].get<int64_t>(), p);
  for (const Json& term : plan["plan"]["terms"]) {
    if (term["name"] == "weights" || term["name"] == "gradients") {
      EXPECT_EQ(term["bytes"].get<int64_t>(), 2 * p) << term.dump();
    }
    if (term["name"] == "master weights") {
      EXPECT_EQ(term["bytes"].get<int64_t>(), 4 * p);
    }
  }
}

TEST(PlanCli, EagerAttentionKeepsTheScoresThatSdpaDoesNot) {
  testing::TempDir dir;
  const std::string command = dpo_binary() + " plan --model " + write_llama3_8b(dir) +
                              " --config " + write_config(dir, kCudaBf16Config) + " --json";
  auto activations = [&](const std::string& attention) {
    auto result = run_command(command + " --attention " + attention);
    EXPECT_EQ(result.exit_code, 0) << result.output;
    return Json::parse(result.output)["plan"]["activations_bytes"].get<int64_t>();
  };
  // 4 pairs in 8 views of 1024 positions, 32 heads, 32 layers: the fp32 softmax output and its
  // bf16 copy (6 bytes) and the mask (1 byte) per score, less SDPA's log-sum-exp (4 per query).
  const int64_t scores =
      int64_t{32} * 8 * 1024 * 1024 * (32 * 6 + 1) - int64_t{32} * 8 * 1024 * 32 * 4;
  EXPECT_EQ(activations("eager") - activations("sdpa"), scores);
}

TEST(PlanCli, BadMemorySizeAndMissingModelAreRefusedByName) {
  testing::TempDir dir;
  const std::string config = write_config(dir, kCudaBf16Config);
  auto bad_size = run_command(
      dpo_binary() + " plan --model " + write_llama3_8b(dir) + " --config " + config +
      " --gpu-memory lots 2>&1");
  EXPECT_EQ(bad_size.exit_code, 2) << bad_size.output;
  EXPECT_TRUE(contains(bad_size.output, "--gpu-memory: 'lots' is not a memory size"))
      << bad_size.output;
  auto no_model = run_command(dpo_binary() + " plan --config " + config + " 2>&1");
  EXPECT_EQ(no_model.exit_code, 2) << no_model.output;
  EXPECT_TRUE(contains(no_model.output, "--model")) << no_model.output;
}

// ---- The estimate against the measured peak ----------------------------------------------------

// Pairs of (nearly) one length, so that every micro-batch is the largest one the plan assumes:
// prompts of ~130 tokens, completions of ~70.
std::string uniform_pairs(int n) {
  const std::string words = "the order shipped late and the customer asks for a refund ";
  std::string out;
  for (int i = 0; i < n; ++i) {
    std::string prompt = "Case " + std::to_string(i) + ": ", chosen = "I am sorry. ",
                rejected = "No refund. ";
    for (int k = 0; k < 6; ++k)
      prompt += words;
    for (int k = 0; k < 3; ++k) {
      chosen += words;
      rejected += words;
    }
    out +=
        Json{
            {"id", "u" + std::to_string(i)},
            {"prompt", prompt},
            {"chosen", chosen},
            {"rejected", rejected}}
            .dump() +
        "\n";
  }
  return out;
}

// The tiny pipeline's tokenizer and chat template with a small model beside its tiny one, and the
// uniform pairs prepared once per build of dpo (the same prepared file serves both models).
struct PlanWorld {
  std::string tiny, small, prepared;
};

const PlanWorld& plan_world() {
  static const PlanWorld world = [] {
    namespace fs = std::filesystem;
    const testing::TinyPipeline& p = testing::tiny_pipeline();
    PlanWorld w{p.model, p.dir + "/plan-small", p.dir + "/plan-uniform.h5"};
    const std::string marker = p.dir + "/plan-complete";
    if (fs::exists(marker))
      return w;
    const std::string own = p.dir + "/plan-building-" + std::to_string(getpid());
    fs::create_directories(own);
    testing::write_file(own + "/pairs.jsonl", uniform_pairs(12));
    auto step = [](const std::string& args) {
      auto r = run_command(dpo_binary() + " " + args + " 2>&1");
      if (r.exit_code != 0)
        throw std::runtime_error("setup failed: dpo " + args + "\n" + r.output);
    };
    step(
        "init-model --preset small --tokenizer " + p.tokenizer +
        "/tokenizer.model --template chatml --special-token '<|im_start|>' --special-token "
        "'<|im_end|>' --eos-token '<|im_end|>' --seed 1 --out " +
        own + "/small");
    step(
        "prepare --data " + own + "/pairs.jsonl --model " + p.model +
        " --max-length 512 --threads 1 --out " + own + "/uniform.h5");
    std::error_code error;
    fs::rename(own + "/small", w.small, error);
    if (!error)
      fs::rename(own + "/uniform.h5", w.prepared, error);
    fs::remove_all(own, error);
    testing::write_file(marker, "");
    return w;
  }();
  return world;
}

// One measured run per line.
struct AccuracyCase {
  const char* name;
  const char* preset;  // "tiny" or "small"
  int pairs;           // train.micro_batch_pairs
  const char* sets;    // more --set flags (gradient checkpointing, lora, dtype)
};

const AccuracyCase kCases[] = {
    {"tiny_full", "tiny", 4, ""},
    {"tiny_full_checkpointing", "tiny", 4, "--set train.gradient_checkpointing=true"},
    {"small_full", "small", 4, ""},
    {"small_full_checkpointing", "small", 4, "--set train.gradient_checkpointing=true"},
    {"tiny_lora", "tiny", 4, "--set lora.enabled=true --set lora.rank=8"},
    {"small_lora", "small", 4, "--set lora.enabled=true --set lora.rank=16"},
    {"small_lora_all_linear_checkpointing",
     "small",
     4,
     "--set lora.enabled=true --set lora.rank=16 --set 'lora.target_modules=[\"all-linear\"]' "
     "--set train.gradient_checkpointing=true"},
};

class PlanAccuracy : public ::testing::TestWithParam<AccuracyCase> {};

TEST_P(PlanAccuracy, EstimateIsWithin15PercentOfTheMeasuredCpuPeak) {
  const AccuracyCase& c = GetParam();
  const PlanWorld& world = plan_world();
  testing::TempDir dir;
  testing::write_file(dir.file("config.json"), R"({
  "reference": {"mode": "precomputed"},
  "loss": {"types": ["sigmoid"], "beta": 0.1},
  "optim": {"lr": 1e-3},
  "train": {"device": "cpu", "dtype": "fp32", "max_steps": 2, "threads": 2,
            "log_every_steps": 1, "save_every_steps": 0},
  "eval": {"every_steps": 0, "max_pairs": 1, "batch_pairs": 1}
})");
  const std::string model = std::string(c.preset) == "small" ? world.small : world.tiny;
  // A copy: the run caches the reference log-probs in the prepared file.
  std::filesystem::copy_file(world.prepared, dir.file("prepared.h5"));
  const std::string sets = " --config " + dir.file("config.json") + " --set model.path=" + model +
                           " --set data.prepared=" + dir.file("prepared.h5") +
                           " --set train.micro_batch_pairs=" + std::to_string(c.pairs) + " " +
                           c.sets;
  auto plan = run_command(dpo_binary() + " plan" + sets + " --json 2>&1");
  ASSERT_EQ(plan.exit_code, 0) << plan.output;
  const Json plan_json = Json::parse(plan.output)["plan"];
  const double estimate = plan_json["peak_mib"].get<double>();
  // The tensor part of the estimate: all but the process baseline, which tensor_peak_mib (the
  // CPU's count of live tensor bytes, as CUDA's allocator counts them) leaves out.
  double baseline_bytes = 0;
  for (const Json& term : plan_json["terms"])
    if (term["name"] == "process baseline")
      baseline_bytes = term["bytes"].get<double>();
  ASSERT_GT(baseline_bytes, 0) << plan.output;
  const double tensor_estimate = estimate - baseline_bytes / (1024.0 * 1024.0);

  // dpo-torch allocates with tcmalloc where the build found it, and its resident peak is the live
  // peak. A build on glibc's malloc gets glibc's default thresholds here (dpo's heap tuning,
  // core/malloc_tuning.h, keeps freed buffers in the heap, so its resident peak also holds free
  // memory: docs/memory.md, "On the CPU"); tcmalloc ignores the variable.
  auto train = run_command(
      "MALLOC_MMAP_THRESHOLD_=131072 " + dpo_binary() + " train" + sets +
      " --set train.out_dir=" + dir.file("run") + " 2>&1");
  ASSERT_EQ(train.exit_code, 0) << train.output;
  EXPECT_TRUE(contains(train.output, "[plan] memory on cpu")) << train.output;
  double measured = 0, measured_tensors = 0;
  std::ifstream metrics(dir.file("run/metrics.jsonl"));
  std::string line;
  while (std::getline(metrics, line)) {
    Json j = Json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.value("split", "") == "train") {
      measured = std::max(measured, j.value("peak_memory_mib", 0.0));
      measured_tensors = std::max(measured_tensors, j.value("tensor_peak_mib", 0.0));
    }
  }
  ASSERT_GT(measured, 0) << "no peak_memory_mib in metrics.jsonl";
  ASSERT_GT(measured_tensors, 0) << "no tensor_peak_mib in metrics.jsonl";
  std::printf(
      "[%s] estimate %.1f MiB, measured %.1f MiB (%+.1f%%); tensors: estimate %.1f MiB, "
      "measured %.1f MiB (%+.1f%%)\n",
      c.name,
      estimate,
      measured,
      100.0 * (estimate - measured) / measured,
      tensor_estimate,
      measured_tensors,
      100.0 * (tensor_estimate - measured_tensors) / measured_tensors);
  EXPECT_LE(std::abs(estimate - measured), 0.15 * measured)
      << c.name << ": estimate " << estimate << " MiB, measured " << measured << " MiB";
  // The tensor part alone has no baseline to absorb an error: the plan must not fall short of
  // it, since that is a run that would not fit. It errs on the high side with gradient
  // checkpointing (up to +17% with eager attention, 2026-12-04, docs/memory.md), which the
  // resident peak's comparison does not show.
  EXPECT_GE(tensor_estimate, 0.85 * measured_tensors)
      << c.name << ": tensor estimate " << tensor_estimate << " MiB, measured " << measured_tensors
      << " MiB";
  EXPECT_LT(measured_tensors, measured) << "the tensors' peak is part of the resident peak";
}

INSTANTIATE_TEST_SUITE_P(
    Cpu,
    PlanAccuracy,
    ::testing::ValuesIn(kCases),
    [](const ::testing::TestParamInfo<AccuracyCase>& info) {
      return std::string(info.param.name);
    });

// ---- dpo train refuses a run that cannot fit ----------------------------------------------------

TEST(PlanCli, TrainRefusesARunThatCannotFitUnlessToldToTryAnyway) {
  const PlanWorld& world = plan_world();
  testing::TempDir dir;
  testing::write_file(dir.file("config.json"), R"({
  "reference": {"mode": "precomputed"},
  "train": {"device": "cpu", "dtype": "fp32", "micro_batch_pairs": 2, "max_steps": 1,
            "threads": 1, "save_every_steps": 0},
  "eval": {"every_steps": 0, "max_pairs": 1, "batch_pairs": 1}
})");
  std::filesystem::copy_file(world.prepared, dir.file("prepared.h5"));
  const std::string base = dpo_binary() + " train --config " + dir.file("config.json") +
                           " --set model.path=" + world.tiny +
                           " --set data.prepared=" + dir.file("prepared.h5") +
                           " --set train.out_dir=" + dir.file("run");
  auto refused = run_command(base + " --memory-budget 64MiB 2>&1");
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  for (const char* part :
       {"[plan] memory on cpu",
        "does NOT fit into 64.0 MiB (--memory-budget)",
        "would run out of memory",
        "--ignore-memory-plan"})
    EXPECT_TRUE(contains(refused.output, part)) << part << "\n" << refused.output;
  EXPECT_FALSE(std::filesystem::exists(dir.file("run/metrics.jsonl")));

  auto anyway = run_command(base + " --memory-budget 64MiB --ignore-memory-plan 2>&1");
  EXPECT_EQ(anyway.exit_code, 0) << anyway.output;
  EXPECT_TRUE(contains(anyway.output, "--ignore-memory-plan: starting anyway")) << anyway.output;
  EXPECT_TRUE(std::filesystem::exists(dir.file("run/metrics.jsonl")));
}

}  // namespace
}  // namespace dpo
