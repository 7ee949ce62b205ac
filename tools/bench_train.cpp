// bench_train: training throughput (tokens/s), peak memory and model FLOPs utilisation (MFU) of
// `dpo train`, whose trainer (trainer/dpo_trainer.h) runs here in-process.
//
//   bench_train [--preset tiny|small|tinyllama-1b] [--device cpu|cuda] [--dtype
//   fp32|bf16|bf16_pure]
//               [--pairs-per-step 8] [--steps 20] [--warmup-steps 3 (at least 1)] [--max-length
//               512]
//               [--threads 2] [--vocab-size 2000 | --tokenizer tokenizer.model]
//               [--peak-tflops X] [--data pairs.jsonl] [--work DIR]
//
// Set-up (not timed): a tokenizer trained on the data (or the given tokenizer.model), a randomly
// initialised model of the preset with the ChatML template, the first rows of the data prepared
// for it. Then the trainer runs warm-up + timed steps (DPO sigmoid loss, reference log-probs
// precomputed, as `dpo train` does by default).
//
// The figures come from the run's metrics.jsonl, over the steps after the warm-up:
// - tokens/s: their real (unpadded) policy tokens, chosen + rejected, over their wall time;
// - peak memory: on CUDA the caching allocator's peak allocated memory, on CPU the process's
//   resident high-water mark (the run's peak: set-up, reference pass and training);
// - model FLOPs per token: 6 x (parameters in matrix products) + 12 x layers x hidden x (mean
//   sequence length), forward and backward with attention, as in the PaLM paper's appendix B;
//   the embedding lookup is no matrix product (a tied LM head is);
// - MFU: those FLOPs at the measured tokens/s over --peak-tflops, the device's dense peak for
//   the dtype (H100/H200 SXM bf16: about 989 by NVIDIA's datasheet). Not printed without it.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/malloc_tuning.h"
#include "dataloader/prepare.h"
#include "dataloader/tokenizer_training.h"
#include "model/model_config.h"
#include "pipeline/model_factory.h"
#include "trainer/config.h"
#include "trainer/dpo_trainer.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct BenchOptions {
  std::string preset = "tiny", device = "cpu", dtype = "fp32";
  int64_t pairs_per_step = 8, steps = 20, warmup_steps = 3, max_length = 512;
  int threads = 2;
  int vocab_size = 2000;
  std::string tokenizer;  // empty: train one on the data
  double peak_tflops = 0;
  std::string data = "examples/support/pairs.jsonl";  // run from the repository root
  std::string work;                                   // empty: a folder in /tmp, removed at the end
};

// The matrix-product FLOPs of one training token (forward + backward) at a sequence length.
double train_flops_per_token(const dpo::ModelConfig& c, double mean_sequence_length) {
  const double embedding = static_cast<double>(c.vocab_size) * static_cast<double>(c.hidden_size);
  const double matmul_parameters = static_cast<double>(c.num_parameters()) - embedding +
                                   (c.tie_word_embeddings ? embedding : 0.0);
  return 6.0 * matmul_parameters + 12.0 * static_cast<double>(c.num_hidden_layers) *
                                       static_cast<double>(c.hidden_size) * mean_sequence_length;
}

// The first `rows` non-empty lines of `source`, written to `target`.
void copy_first_rows(const std::string& source, const std::string& target, int64_t rows) {
  std::ifstream in(source);
  if (!in)
    throw dpo::IoError("cannot read " + source);
  std::ofstream out(target);
  int64_t written = 0;
  for (std::string line; written < rows && std::getline(in, line);) {
    if (line.empty())
      continue;
    out << line << "\n";
    ++written;
  }
  if (!out)
    throw dpo::IoError("cannot write " + target);
}

int run(const BenchOptions& o) {
  const bool own_work = o.work.empty();
  const fs::path dir =
      own_work ? fs::temp_directory_path() / ("dpo-bench-train-" + std::to_string(getpid()))
               : fs::path(o.work);
  fs::remove_all(dir);
  fs::create_directories(dir);

  // 1. Data: enough rows for every step from one pass, plus 16 held-out pairs.
  const int64_t total_steps = o.warmup_steps + o.steps;
  const std::string data = (dir / "pairs.jsonl").string();
  copy_first_rows(o.data, data, total_steps * o.pairs_per_step + 16);

  // 2. Tokenizer and model.
  const std::vector<std::string> chatml = {"<|im_start|>", "<|im_end|>"};
  std::string tokenizer = o.tokenizer;
  if (tokenizer.empty()) {
    dpo::TokenizerTrainingOptions training;
    training.vocab_size = o.vocab_size;
    training.user_symbols = chatml;
    tokenizer =
        dpo::train_tokenizer_on_pairs({o.data}, (dir / "tokenizer").string(), training).model_path;
  }
  dpo::InitModelOptions init;
  init.preset = o.preset;
  init.tokenizer_path = tokenizer;
  init.template_spec = "chatml";
  if (o.tokenizer.empty()) {
    init.added_special_tokens = chatml;
    init.eos_token = "<|im_end|>";
  }
  init.out_dir = (dir / "model").string();
  init.seed = 1;
  dpo::InitModelResult model = dpo::init_model_folder(init);

  // 3. Prepare.
  dpo::PrepareOptions prepare;
  prepare.files = {data};
  prepare.model_dir = init.out_dir;
  prepare.max_length = o.max_length;
  prepare.validate.val_fraction = 16.0 / static_cast<double>(total_steps * o.pairs_per_step + 16);
  prepare.out_path = (dir / "pairs.h5").string();
  prepare.force = true;
  dpo::PrepareResult prepared = dpo::prepare_dataset(prepare);

  // 4. Train: a config as `dpo train` resolves it; device and dtype parsed by the config reader
  // (so --dtype bfloat16 is bf16, with fp32 master weights, as train.dtype=bfloat16 is).
  dpo::Config train;
  dpo::apply_override(train, "train.device=" + o.device);
  dpo::apply_override(train, "train.dtype=" + o.dtype);
  train.data.prepared = prepare.out_path;
  train.model.path = init.out_dir;
  train.train.out_dir = (dir / "run").string();
  train.optim.lr = 1e-5;
  train.optim.warmup_steps = 0;
  train.optim.schedule = dpo::ScheduleKind::constant;
  train.train.micro_batch_pairs = o.pairs_per_step;
  train.train.max_steps = total_steps;
  train.train.threads = train.train.device == dpo::DeviceChoice::cpu ? o.threads : 0;
  train.train.log_every_steps = 1;  // a metrics line per step: the figures below need them
  train.train.save_every_steps = 0;
  train.train.seed = 1;
  train.eval.every_steps = 0;  // only before training and at the end
  train.eval.batch_pairs = o.pairs_per_step;
  train.eval.max_pairs = 16;
  std::printf(
      "bench_train: %s (%lld parameters), %s %s, %lld pairs per step, %lld warm-up + %lld timed "
      "steps; data %s (%llu train / %llu held-out pairs, max length %lld)\n",
      o.preset.c_str(),
      static_cast<long long>(model.parameters),
      o.device.c_str(),
      dpo::train_dtype_name(train.train.dtype),
      static_cast<long long>(o.pairs_per_step),
      static_cast<long long>(o.warmup_steps),
      static_cast<long long>(o.steps),
      o.data.c_str(),
      static_cast<unsigned long long>(prepared.train_pairs),
      static_cast<unsigned long long>(prepared.val_pairs),
      static_cast<long long>(o.max_length));
  std::fflush(stdout);
  dpo::RunFlags flags;
  flags.overwrite = true;  // the benchmark's own folder, replaced on every run
  dpo::TrainResult result = dpo::train_dpo(train, flags);
  if (result.steps != total_steps)
    throw dpo::DataError(
        "the run stopped after " + std::to_string(result.steps) + " of " +
        std::to_string(total_steps) + " steps (" + result.stop_reason + ")");

  // 5. Figures from metrics.jsonl: the train lines after the warm-up.
  std::ifstream metrics(train.train.out_dir + "/metrics.jsonl");
  std::vector<json> lines;
  for (std::string line; std::getline(metrics, line);) {
    json object = json::parse(line);
    if (object.value("split", "") == "train" && !object.contains("skipped"))
      lines.push_back(object);
  }
  if (static_cast<int64_t>(lines.size()) != total_steps)
    throw dpo::DataError(
        "metrics.jsonl holds " + std::to_string(lines.size()) + " train lines, not " +
        std::to_string(total_steps));
  // Each line's `seconds` is taken at the end of its step: the timed window opens at the end of
  // the last warm-up step.
  const double start_seconds =
      lines[static_cast<size_t>(o.warmup_steps) - 1]["seconds"].get<double>();
  double tokens = 0, pairs = 0;
  for (size_t i = static_cast<size_t>(o.warmup_steps); i < lines.size(); ++i) {
    tokens += lines[i]["tokens"].get<double>();
    pairs += lines[i]["pairs"].get<double>();
  }
  const double seconds = lines.back()["seconds"].get<double>() - start_seconds;
  const double tokens_per_s = tokens / seconds;
  const double mean_sequence = tokens / (2.0 * pairs);
  const double flops_per_token = train_flops_per_token(model.config, mean_sequence);
  const double achieved_tflops = flops_per_token * tokens_per_s / 1e12;
  std::printf("\n%-28s %s\n", "preset", o.preset.c_str());
  std::printf(
      "%-28s %lld (hidden %lld, %lld layers, vocab %lld)\n",
      "parameters",
      static_cast<long long>(model.parameters),
      static_cast<long long>(model.config.hidden_size),
      static_cast<long long>(model.config.num_hidden_layers),
      static_cast<long long>(model.config.vocab_size));
  std::printf(
      "%-28s %s %s%s\n",
      "device, dtype",
      o.device.c_str(),
      dpo::train_dtype_name(train.train.dtype),
      o.device == "cpu" ? (", " + std::to_string(o.threads) + " threads").c_str() : "");
  std::printf(
      "%-28s %.3f s/step, %.1f pairs/s\n",
      "timed steps",
      seconds / static_cast<double>(o.steps),
      pairs / seconds);
  std::printf(
      "%-28s %.0f tokens/s (mean sequence %.0f tokens)\n",
      "throughput",
      tokens_per_s,
      mean_sequence);
  std::printf(
      "%-28s %.0f MiB (%s)\n",
      "peak memory",
      lines.back()["peak_memory_mib"].get<double>(),
      o.device == "cuda" ? "CUDA caching allocator, allocated"
                         : "process resident high-water mark");
  std::printf(
      "%-28s %.3g FLOP/token, %.3f TFLOP/s achieved\n",
      "model FLOPs",
      flops_per_token,
      achieved_tflops);
  if (o.peak_tflops > 0)
    std::printf(
        "%-28s %.1f%% of %.1f TFLOP/s\n",
        "MFU",
        100.0 * achieved_tflops / o.peak_tflops,
        o.peak_tflops);
  else
    std::printf(
        "%-28s (give --peak-tflops, the device's dense peak for %s)\n",
        "MFU",
        dpo::train_dtype_name(train.train.dtype));
  if (own_work)
    fs::remove_all(dir);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  BenchOptions o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--preset")
      o.preset = value;
    else if (flag == "--device")
      o.device = value;
    else if (flag == "--dtype")
      o.dtype = value;
    else if (flag == "--pairs-per-step")
      o.pairs_per_step = std::atoll(value.c_str());
    else if (flag == "--steps")
      o.steps = std::atoll(value.c_str());
    else if (flag == "--warmup-steps")
      o.warmup_steps = std::atoll(value.c_str());
    else if (flag == "--max-length")
      o.max_length = std::atoll(value.c_str());
    else if (flag == "--threads")
      o.threads = std::atoi(value.c_str());
    else if (flag == "--vocab-size")
      o.vocab_size = std::atoi(value.c_str());
    else if (flag == "--tokenizer")
      o.tokenizer = value;
    else if (flag == "--peak-tflops")
      o.peak_tflops = std::atof(value.c_str());
    else if (flag == "--data")
      o.data = value;
    else if (flag == "--work")
      o.work = value;
    else {
      std::fprintf(
          stderr,
          "bench_train: unknown flag %s (see the comment at the top of bench_train.cpp)\n",
          flag.c_str());
      return 2;
    }
  }
  if (argc % 2 == 0) {
    std::fprintf(stderr, "bench_train: %s takes a value\n", argv[argc - 1]);
    return 2;
  }
  if (o.steps < 1 || o.warmup_steps < 1 || o.pairs_per_step < 1) {
    std::fprintf(
        stderr, "bench_train: --steps, --warmup-steps and --pairs-per-step must be at least 1\n");
    return 2;
  }
  dpo::keep_freed_memory_in_heap();  // as the dpo binary does
  try {
    return run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_train: %s\n", e.what());
    return 2;
  }
}
