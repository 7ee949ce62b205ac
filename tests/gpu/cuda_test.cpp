// The CUDA path against the CPU (ctest label `gpu`; tools/gpu/check.sh runs this binary from the
// device bundle): the log-probs and gradients of a tiny model, `dpo score`, training, the
// non-finite guard, resume and the peak-memory figures, each on CUDA compared with the same work
// on the CPU within fp32 or bf16 tolerances. Every test skips, saying why, when this LibTorch
// sees no CUDA device (the Debian build, or the CUDA build on a machine without a GPU).
//
// The tiny world is that of tests/trainer/dpo_trainer_test.cpp (generated support pairs, a
// sentencepiece tokenizer trained on them, a 2-layer Llama with a 32-wide hidden state, a
// prepared file), built once per process and only when there is a device.
#include <ATen/ATen.h>
#include <ATen/Context.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/error.h"
#include "dataloader/prepare.h"
#include "dataloader/tokenizer_training.h"
#include "model/checkpoint.h"
#include "model/runtime_info.h"
#include "model/sequence_logprobs.h"
#include "pipeline/model_factory.h"
#include "tests/support/test_support.h"
#include "tests/trainer/tiny_world.h"
#include "tests/trainer/trainer_fixture.h"
#include "trainer/checkpoint_store.h"
#include "trainer/config.h"
#include "trainer/device_setup.h"
#include "trainer/dpo_trainer.h"
#include "trainer/evaluation.h"
#include "trainer/scoring.h"

namespace dpo {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// Skips the calling test, with the reason, when there is no CUDA device to run it on.
#define DPO_REQUIRE_CUDA()                                                                    \
  do {                                                                                        \
    if (!at::hasCUDA()) {                                                                     \
      GTEST_SKIP() << "no CUDA device: LibTorch " << torch_runtime_info().version             \
                   << " sees none (a CPU-only LibTorch or no GPU here); these tests run on "  \
                      "a GPU machine: tools/gpu/check.sh --bundle DIR (tools/gpu/README.md)"; \
    }                                                                                         \
  } while (0)

// The device under test and the config value that selects it.
const at::Device kCuda(at::kCUDA, 0);
constexpr DeviceChoice kOnCuda = DeviceChoice::cuda;
const at::Device kCpu(at::kCPU);

// ---- The tiny world ----------------------------------------------------------------------------

using testing::TinyWorld;
constexpr int kVocab = testing::kTinyWorldVocab;

void build_world(TinyWorld& w) {
  testing::build_tiny_world(w, testing::support_pairs_jsonl(240), 0.2);
}

const TinyWorld& world() {
  static TinyWorld w;
  static bool built = (build_world(w), true);
  (void)built;
  return w;
}

// A private copy of the world's prepared file (runs cache reference log-probs inside it).
std::string copy_prepared(const testing::TempDir& dir, const std::string& name) {
  std::string path = dir.file(name);
  fs::copy_file(world().prepared_path, path, fs::copy_options::overwrite_existing);
  return path;
}

// The settings of dpo_trainer_test.cpp's tiny runs (a constant, high learning rate; a metrics
// line every step; no checkpoint unless asked), on `device`.
Config tiny_config(const std::string& prepared, const std::string& out_dir, DeviceChoice device) {
  Config config;
  config.data.prepared = prepared;
  config.model.path = world().model_dir;
  config.train.out_dir = out_dir;
  config.train.device = device;
  config.train.threads = 1;
  config.train.seed = 7;
  config.optim.lr = 5e-3;
  config.optim.schedule = ScheduleKind::constant;
  config.train.micro_batch_pairs = 8;
  config.train.max_steps = 20;
  config.train.log_every_steps = 1;
  config.train.save_every_steps = 0;
  config.eval.every_steps = 0;
  config.eval.batch_pairs = 16;
  return config;
}

// The train lines of a run's metrics.jsonl by step (skipped steps left out).
std::map<int64_t, json> train_lines(const std::string& run_dir) {
  std::map<int64_t, json> out;
  for (json& line : testing::metrics_lines(run_dir + "/metrics.jsonl", "train")) {
    if (line.value("skipped", false))
      continue;
    const int64_t step = line["step"].get<int64_t>();  // before the move below
    out[step] = std::move(line);
  }
  return out;
}

// Per-step losses of two runs agree within `tolerance` (absolute, on losses near log 2).
void expect_same_losses(const std::string& a, const std::string& b, double tolerance) {
  std::map<int64_t, json> left = train_lines(a), right = train_lines(b);
  ASSERT_FALSE(left.empty());
  ASSERT_EQ(left.size(), right.size());
  for (const auto& [step, line] : left) {
    ASSERT_EQ(right.count(step), 1u) << "step " << step;
    EXPECT_NEAR(line["loss"].get<double>(), right[step]["loss"].get<double>(), tolerance)
        << "step " << step;
  }
}

// ---- 1. The model: log-probs and gradients -----------------------------------------------------

// Sequence log-probs and their gradients of the same weights on the CPU (fp32) and on CUDA:
// equal within 1e-4 nats per token in fp32 (TF32 is off by default in LibTorch's matmuls), and
// within bf16's rounding (0.1 nats per token, the bound of tools/gpu/parity.py) in bf16.
TEST(CudaModel, LogprobsAndGradientsEqualTheCpu) {
  DPO_REQUIRE_CUDA();
  at::manual_seed(11);
  const int64_t rows = 6, length = 40;
  at::Tensor ids = at::randint(kVocab, {rows, length}, at::kLong);  // [N, T]
  at::Tensor start = at::tensor({5, 9, 12, 3, 20, 7}, at::kLong);   // [N]
  at::Tensor span = at::tensor({30, 25, 20, 36, 20, 10}, at::kLong);

  LoadedModel cpu = load_pretrained(world().model_dir, at::kFloat, kCpu);
  SequenceLogprobs on_cpu = sequence_logprobs(*cpu.model, ids, start, span);
  on_cpu.sum.sum().backward();

  for (at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
    SCOPED_TRACE(dtype == at::kFloat ? "fp32" : "bf16");
    const bool fp32 = dtype == at::kFloat;
    LoadedModel cuda = load_pretrained(world().model_dir, dtype, kCuda);
    SequenceLogprobs on_cuda =
        sequence_logprobs(*cuda.model, ids.to(kCuda), start.to(kCuda), span.to(kCuda));
    ASSERT_EQ(on_cuda.sum.device(), kCuda);
    EXPECT_TRUE(at::equal(on_cuda.count.cpu(), on_cpu.count));
    at::Tensor per_token =
        (on_cuda.sum.detach().cpu().to(at::kDouble) - on_cpu.sum.detach().to(at::kDouble)).abs() /
        on_cpu.count.to(at::kDouble);  // [N]
    EXPECT_LT(per_token.max().item<double>(), fp32 ? 1e-4 : 0.1);
    EXPECT_TRUE(at::isfinite(on_cuda.sum).all().item<bool>());

    on_cuda.sum.sum().backward();
    // named_parameters(), not model_state(): that one detaches, and a detached tensor has no grad.
    auto cpu_params = cpu.model->named_parameters(), cuda_params = cuda.model->named_parameters();
    ASSERT_EQ(cpu_params.size(), cuda_params.size());
    for (size_t i = 0; i < cpu_params.size(); ++i) {
      const std::string& name = cpu_params[i].key();
      ASSERT_EQ(name, cuda_params[i].key());
      const at::Tensor expected = cpu_params[i].value().grad();
      const at::Tensor actual = cuda_params[i].value().grad();
      ASSERT_TRUE(expected.defined() && actual.defined()) << name;
      // Relative to the largest gradient of the tensor: bf16 keeps 8 bits of mantissa.
      const double scale = expected.abs().max().item<double>() + 1e-12;
      const double diff =
          (actual.cpu().to(at::kDouble) - expected.to(at::kDouble)).abs().max().item<double>();
      EXPECT_LT(diff / scale, fp32 ? 1e-3 : 0.1) << name;
    }
  }
}

// ---- 2. dpo score ------------------------------------------------------------------------------

std::vector<json> score_lines(
    const testing::TempDir& dir, const std::string& name, DeviceChoice device, TrainDtype dtype) {
  ScoreRequest request;
  request.model_dir = world().model_dir;
  request.prepared_path = copy_prepared(dir, name + ".h5");
  request.device = device;
  request.dtype = dtype;
  request.threads = 1;
  request.batch_pairs = 16;
  request.out_path = dir.file(name + ".jsonl");
  ScoreSummary summary = score_prepared(request);
  EXPECT_EQ(summary.device, resolve_device(device).str());
  return testing::read_jsonl(request.out_path);
}

TEST(CudaScore, EqualsTheCpuInFp32AndBf16) {
  DPO_REQUIRE_CUDA();
  testing::TempDir dir;
  std::vector<json> cpu = score_lines(dir, "cpu", DeviceChoice::cpu, TrainDtype::fp32);
  std::vector<json> fp32 = score_lines(dir, "cuda-fp32", kOnCuda, TrainDtype::fp32);
  std::vector<json> bf16 = score_lines(dir, "cuda-bf16", kOnCuda, TrainDtype::bf16);
  ASSERT_EQ(cpu.size(), 240u);
  ASSERT_EQ(fp32.size(), cpu.size());
  ASSERT_EQ(bf16.size(), cpu.size());
  double worst_fp32 = 0, worst_bf16 = 0;
  for (size_t i = 0; i < cpu.size(); ++i) {
    ASSERT_EQ(cpu[i]["id"], fp32[i]["id"]);
    ASSERT_EQ(cpu[i]["id"], bf16[i]["id"]);
    for (const char* side : {"chosen", "rejected"}) {
      const std::string logps = std::string(side) + "_logps",
                        tokens = std::string(side) + "_tokens";
      const double count = cpu[i][tokens].get<double>();
      ASSERT_GT(count, 0);
      EXPECT_EQ(fp32[i][tokens], cpu[i][tokens]);
      const double expected = cpu[i][logps].get<double>();
      worst_fp32 = std::max(worst_fp32, std::abs(fp32[i][logps].get<double>() - expected) / count);
      worst_bf16 = std::max(worst_bf16, std::abs(bf16[i][logps].get<double>() - expected) / count);
    }
  }
  // Per completion token, as tools/gpu/parity.py measures against transformers.
  EXPECT_LT(worst_fp32, 1e-4);
  EXPECT_LT(worst_bf16, 0.1);
  RecordProperty("max_abs_diff_per_token_fp32", std::to_string(worst_fp32));
  RecordProperty("max_abs_diff_per_token_bf16", std::to_string(worst_bf16));
}

// ---- 3. Training -------------------------------------------------------------------------------

// 20 steps of the same run on the CPU and on CUDA: the same losses step by step within fp32's
// drift, the same held-out result; bf16 (fp32 master weights) on CUDA within bf16's, against bf16
// on the CPU. And the CUDA run records CUDA's peak memory.
TEST(CudaTrain, LossesEqualTheCpuInFp32AndBf16) {
  DPO_REQUIRE_CUDA();
  testing::TempDir dir;
  Config cpu = tiny_config(copy_prepared(dir, "cpu.h5"), dir.file("cpu"), DeviceChoice::cpu);
  Config cuda = tiny_config(copy_prepared(dir, "cuda.h5"), dir.file("cuda"), kOnCuda);
  TrainResult on_cpu = train_dpo(cpu);
  TrainResult on_cuda = train_dpo(cuda);
  ASSERT_EQ(on_cuda.stop_reason, "max_steps");
  EXPECT_EQ(on_cuda.bad_steps, 0);
  expect_same_losses(cpu.train.out_dir, cuda.train.out_dir, 1e-3);
  EXPECT_NEAR(on_cuda.final_eval.loss, on_cpu.final_eval.loss, 1e-3);
  EXPECT_NEAR(on_cuda.final_eval.rewards_accuracies, on_cpu.final_eval.rewards_accuracies, 0.05);
  json manifest = json::parse(testing::read_file(dir.file("cuda/manifest.json")));
  EXPECT_EQ(manifest["device"], kCuda.str());

  Config cpu_bf16 =
      tiny_config(copy_prepared(dir, "cpu-bf16.h5"), dir.file("cpu-bf16"), DeviceChoice::cpu);
  Config cuda_bf16 =
      tiny_config(copy_prepared(dir, "cuda-bf16.h5"), dir.file("cuda-bf16"), kOnCuda);
  cpu_bf16.train.dtype = cuda_bf16.train.dtype = TrainDtype::bf16;
  cpu_bf16.train.max_steps = cuda_bf16.train.max_steps = 10;
  train_dpo(cpu_bf16);
  TrainResult bf16 = train_dpo(cuda_bf16);
  ASSERT_EQ(bf16.stop_reason, "max_steps");
  expect_same_losses(cpu_bf16.train.out_dir, cuda_bf16.train.out_dir, 0.05);
}

// The peak-memory figures of a CUDA run: every train line of metrics.jsonl has CUDA's caching
// allocator's peak (not the process's resident memory), more than the weights and below what a
// model of 30k parameters could need; peak_memory_mib(cuda) reads the same counter.
TEST(CudaTrain, PeakMemoryFiguresArePresent) {
  DPO_REQUIRE_CUDA();
  testing::TempDir dir;
  Config cuda = tiny_config(copy_prepared(dir, "p.h5"), dir.file("run"), kOnCuda);
  cuda.train.max_steps = 4;
  train_dpo(cuda);
  std::map<int64_t, json> lines = train_lines(cuda.train.out_dir);
  ASSERT_EQ(lines.size(), 4u);
  for (const auto& [step, line] : lines) {
    ASSERT_TRUE(line.contains("peak_memory_mib")) << line.dump();
    const double mib = line["peak_memory_mib"].get<double>();
    EXPECT_GT(mib, 0.01) << "step " << step;  // the weights alone are ~0.1 MiB in fp32
    EXPECT_LT(mib, 1024.0) << "step " << step;
  }
  EXPECT_GT(peak_memory_mib(kCuda), 0.0);
}

// ---- 4. The non-finite guard -------------------------------------------------------------------

// A weight that turns NaN on the GPU stops the run at the next step with a CheckpointError naming
// the weight, as on the CPU; no checkpoint is written from it.
TEST(CudaGuard, ANanWeightStopsTheRunNamingIt) {
  DPO_REQUIRE_CUDA();
  testing::TempDir dir;
  Config options = tiny_config(copy_prepared(dir, "g.h5"), dir.file("run"), kOnCuda);
  options.train.max_steps = 10;
  options.train.save_every_steps = 2;
  options.train.keep_checkpoints = 1;
  RunFlags flags;
  flags.after_update = [](int64_t step, AdamW& optimizer) {
    if (step != 3)
      return;
    for (const NamedParameter& p : optimizer.parameters()) {
      if (p.name == "model.norm.weight") {
        ASSERT_EQ(p.tensor.device(), kCuda);
        at::NoGradGuard no_grad;
        p.tensor.detach()[0].fill_(std::nan(""));
      }
    }
  };
  try {
    train_dpo(options, flags);
    FAIL() << "expected CheckpointError";
  } catch (const CheckpointError& error) {
    EXPECT_NE(
        std::string(error.what())
            .find("step 4: the weight 'model.norm.weight' (1 NaN, 0 Inf of 32 values) is not "
                  "finite"),
        std::string::npos)
        << error.what();
    EXPECT_NE(error.hint().find("step-00000002"), std::string::npos) << error.hint();
  }
  EXPECT_FALSE(fs::exists(dir.file("run/checkpoints/step-00000004")));
  EXPECT_FALSE(fs::exists(dir.file("run/final")));
}

// A model folder holding a NaN weight, scored on CUDA: a CheckpointError naming the weight, and
// nothing written.
TEST(CudaGuard, ANanModelIsRefusedByScoreNamingTheWeight) {
  DPO_REQUIRE_CUDA();
  testing::TempDir dir;
  LoadedModel loaded = load_pretrained(world().model_dir, at::kFloat, kCpu);
  for (auto& [name, tensor] : model_state(*loaded.model)) {
    if (name == "model.norm.weight") {
      at::NoGradGuard no_grad;
      tensor[0].fill_(std::nan(""));
    }
  }
  SaveOptions save;
  save.tokenizer_source = world().model_dir;
  save_pretrained(*loaded.model, dir.file("nan_model"), save);

  ScoreRequest request;
  request.model_dir = dir.file("nan_model");
  request.prepared_path = copy_prepared(dir, "s.h5");
  request.device = kOnCuda;
  request.threads = 1;
  request.split = "val";
  request.out_path = dir.file("scores.jsonl");
  try {
    score_prepared(request);
    FAIL() << "expected CheckpointError";
  } catch (const CheckpointError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("gives non-finite log-probs"), std::string::npos) << message;
    EXPECT_NE(message.find("its weight 'model.norm.weight' (1 NaN"), std::string::npos) << message;
  }
  EXPECT_FALSE(fs::exists(request.out_path));
}

// ---- 5. Resume ---------------------------------------------------------------------------------

// A CUDA run stopped after step 7 (last checkpoint: step 6) and resumed repeats the uninterrupted
// run's losses and held-out figures. On the CPU this is bit for bit (dpo_trainer_test.cpp); on
// CUDA, reductions with atomics (the embedding's backward) may add in another order, so within
// fp32's drift.
TEST(CudaResume, ResumedRunEqualsTheUninterruptedWithinTolerance) {
  DPO_REQUIRE_CUDA();
  testing::TempDir dir;
  Config a = tiny_config(copy_prepared(dir, "a.h5"), dir.file("a"), kOnCuda);
  a.train.max_steps = 12;
  a.train.save_every_steps = 2;
  a.eval.every_steps = 4;
  a.train.grad_accum = 2;
  a.train.micro_batch_pairs = 4;
  a.optim.schedule = ScheduleKind::cosine;
  a.optim.warmup_steps = 3;
  TrainResult straight = train_dpo(a);
  ASSERT_EQ(straight.stop_reason, "max_steps");

  Config b = a;
  b.data.prepared = copy_prepared(dir, "b.h5");
  b.train.out_dir = dir.file("b");
  RunFlags flags;
  flags.stop_after_steps = 7;
  TrainResult first = train_dpo(b, flags);
  ASSERT_EQ(first.stop_reason, "interrupted");
  ASSERT_EQ(
      CheckpointStore(b.train.out_dir, static_cast<int>(b.train.keep_checkpoints)).latest(),
      dir.file("b/checkpoints/") + CheckpointStore::folder_name(6));
  flags.stop_after_steps = 0;
  flags.resume = true;
  TrainResult resumed = train_dpo(b, flags);
  ASSERT_EQ(resumed.stop_reason, "max_steps");
  EXPECT_EQ(resumed.steps, 12);

  std::map<int64_t, json> expected = train_lines(a.train.out_dir),
                          actual = train_lines(b.train.out_dir);
  ASSERT_EQ(expected.size(), 12u);
  ASSERT_EQ(actual.size(), 12u);
  expect_same_losses(a.train.out_dir, b.train.out_dir, 1e-4);
  EXPECT_NEAR(resumed.final_eval.loss, straight.final_eval.loss, 1e-4);
  EXPECT_NEAR(resumed.final_eval.rewards_accuracies, straight.final_eval.rewards_accuracies, 1e-9);
}

}  // namespace
}  // namespace dpo
