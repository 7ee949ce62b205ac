// bench_train: training throughput (tokens/s), peak memory and model FLOPs utilisation (MFU) of
// `dpo train`, whose trainer (trainer/dpo_trainer.h) runs here in-process.
//
//   bench_train [--preset tiny|small|tinyllama-1b] [--device cpu|cuda] [--dtype
//   fp32|bf16|bf16_pure]
//               [--pairs-per-step 8] [--steps 20] [--warmup-steps 3 (at least 1)] [--max-length
//               512]
//               [--threads 2] [--vocab-size 2000 | --tokenizer tokenizer.model]
//               [--peak-tflops X] [--data pairs.jsonl | --data synthetic-long] [--work DIR]
//               [--layout padded|shared|packed|shared+packed|all]
//               [--lora [--lora-rank 16]] [--gradient-checkpointing] [--nproc N]
//
// Set-up (not timed): a tokenizer trained on the data (or the given tokenizer.model), a randomly
// initialised model of the preset with the ChatML template, the first rows of the data prepared
// for it. Then the trainer runs warm-up + timed steps (DPO sigmoid loss, reference log-probs
// precomputed, as `dpo train` does by default).
//
// --layout picks train.prefix_sharing / train.padding_free (default shared+packed, as `dpo train`);
// `all` trains the four side by side on the same data and model and prints their ratios against
// the padded, unshared baseline. --data synthetic-long generates UltraFeedback-like pairs
// (long prompts, about 40% of a pair's tokens) instead of reading a file.
//
// --lora trains the layout twice on the same data and model: LoRA (rank --lora-rank, alpha
// 2 x rank, every linear layer, the reference = the adapters off) and full training, and prints
// both side by side with the ratio of their peak memory. Each of the two runs in its own process
// (bench_train runs itself with --child-variant on the prepared --work folder), because on the CPU
// the peak is the process's high-water mark, which only grows (and freed memory stays in the
// heap): in one process the second run would report the first's peak. The reference log-probs
// are cached in the prepared file before either starts.
// --gradient-checkpointing sets train.gradient_checkpointing for every run.
// --nproc N (N > 1) measures data-parallel scaling on the layout: one process with
// --pairs-per-step pairs and --threads threads, against N ranks (Gloo or NCCL, started with
// distributed/worker_launcher.h) with pairs-per-step / N pairs and threads / N threads each, the
// same global batch; each variant in its own processes, as --lora. Printed: pairs/s of both,
// the speed-up and the scaling efficiency (speed-up / N). On CUDA every rank takes its own GPU.
//
// The figures come from the run's metrics.jsonl, over the steps after the warm-up:
// - tokens/s: their real policy tokens, chosen + rejected sequences (a shared prompt counted for
//   both, padding never), over their wall time: the same count in every layout;
// - work: the token slots a forward computes, summed over one epoch of the loader's batches
//   (model/packed_batch.h), against the padded, unshared forward's (what is saved);
// - peak memory: on CUDA the caching allocator's peak allocated memory, on CPU the process's
//   resident high-water mark (the run's peak: set-up, reference pass and training);
// - model FLOPs per token: 6 x (parameters in matrix products) + 12 x layers x hidden x (mean
//   sequence length), forward and backward with attention, as in the PaLM paper's appendix B;
//   the embedding lookup is no matrix product (a tied LM head is);
// - MFU: those FLOPs at the measured tokens/s over --peak-tflops, the device's dense peak for
//   the dtype (H100/H200 SXM bf16: about 989 by NVIDIA's datasheet). Not printed without it.
#include <ATen/ATen.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/malloc_tuning.h"
#include "dataloader/batch_loader.h"
#include "dataloader/prepare.h"
#include "dataloader/prepared_dataset.h"
#include "dataloader/tokenizer_training.h"
#include "distributed/worker_launcher.h"
#include "distributed/world_info.h"
#include "model/model_config.h"
#include "model/packed_batch.h"
#include "pipeline/model_factory.h"
#include "trainer/config.h"
#include "trainer/dpo_trainer.h"
#include "trainer/scoring.h"

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
  std::string layout = "shared+packed";
  bool lora = false;
  int64_t lora_rank = 16;
  bool gradient_checkpointing = false;
  int nproc = 1;                  // > 1: one process against this many ranks
  int child_variant = -1;         // >= 0: only train that variant on --work, print its figures
  std::vector<std::string> args;  // the command line, to run the variants as children
};

struct Layout {
  std::string name;
  dpo::PairLayout layout;
  bool lora = false;
  int ranks = 1;  // --nproc: data-parallel ranks of this variant
};

const Layout kLayouts[] = {
    {"padded", {false, false}},
    {"shared", {true, false}},
    {"packed", {false, true}},
    {"shared+packed", {true, true}}};

// One layout's figures.
struct Figures {
  std::string name;
  bool lora = false;
  double seconds_per_step = 0, tokens_per_s = 0, pairs_per_s = 0, mean_sequence = 0;
  double peak_memory_mib = 0;  // CUDA: allocator peak; CPU: resident high-water mark
  double tensor_peak_mib = 0;  // CUDA: the same; CPU: peak of live tensor bytes
  double real_tokens = 0, computed_tokens = 0, padded_tokens = 0;  // over one epoch's batches
};

// UltraFeedback-like pairs: prompts of 30-170 words (mean ~100), completions of 20-130 words
// (mean ~75), so the prompt is about 40% of a pair's tokens (prompt + chosen + rejected). Words
// are drawn from 1,200 made-up words of two or three syllables (enough text for a 2,000-piece
// tokenizer), reproducibly.
void write_synthetic_long(const std::string& path, int64_t rows) {
  static const char* const kSyllables[] = {
      "ka", "lo", "mi", "ne", "ru", "sa", "te", "vo", "zi", "pa", "do", "fe", "gu", "hi", "ju",
      "bo", "ce", "di", "fu", "ga", "ho", "ki", "la", "mo", "nu", "po", "ri", "so", "tu", "va"};
  constexpr size_t kSyllableCount = sizeof(kSyllables) / sizeof(kSyllables[0]);
  std::mt19937_64 rng(12345);
  std::vector<std::string> words;
  while (words.size() < 1200) {
    std::string word;
    for (uint64_t k = 2 + rng() % 2; k > 0; --k)
      word += kSyllables[rng() % kSyllableCount];
    words.push_back(word);
  }
  auto text = [&](int64_t low, int64_t high) {
    const int64_t count = low + static_cast<int64_t>(rng() % static_cast<uint64_t>(high - low + 1));
    std::string out;
    for (int64_t i = 0; i < count; ++i)
      out += (out.empty() ? "" : " ") + words[rng() % words.size()];
    return out;
  };
  std::ofstream out(path);
  for (int64_t i = 0; i < rows; ++i) {
    json row = {
        {"id", "synthetic-" + std::to_string(i)},
        {"prompt", {{{"role", "user"}, {"content", text(30, 170)}}}},
        {"chosen", {{{"role", "assistant"}, {"content", text(20, 130)}}}},
        {"rejected", {{{"role", "assistant"}, {"content", text(20, 130)}}}}};
    out << row.dump() << "\n";
  }
  if (!out)
    throw dpo::IoError("cannot write " + path);
}

// The token slots each layout computes over one epoch of the trainer's batches (the loader as
// the trainer sets it up: same batch size and seed).
void count_work(
    const std::string& prepared_path,
    int64_t pairs_per_step,
    uint64_t seed,
    int32_t vocab,
    std::vector<Figures>& figures,
    const std::vector<Layout>& layouts) {
  auto data =
      std::make_shared<dpo::PreparedDataset>(dpo::read_prepared_dataset(prepared_path, vocab));
  std::shared_ptr<const dpo::PreparedSplit> train(data, &data->train);
  dpo::BatchLoaderOptions options;
  options.batch_size = pairs_per_step;
  options.seed = seed;
  options.prefetch = 0;
  dpo::BatchLoader loader(train, options);
  for (int64_t b = 0; b < loader.batches_per_epoch(); ++b) {
    dpo::Batch batch = loader.next();
    const int64_t rows = 2 * batch.pairs;
    std::vector<int64_t> ids(batch.input_ids.begin(), batch.input_ids.end());
    std::vector<int64_t> start(batch.completion_start.begin(), batch.completion_start.end());
    std::vector<int64_t> length(static_cast<size_t>(rows));
    for (int64_t r = 0; r < rows; ++r)
      length[static_cast<size_t>(r)] =
          batch.lengths[static_cast<size_t>(r)] - start[static_cast<size_t>(r)];
    at::Tensor ids_tensor = at::tensor(ids).view({rows, batch.length});
    for (size_t i = 0; i < layouts.size(); ++i) {
      dpo::PackedBatch packed =
          dpo::pack_sequences(ids_tensor, at::tensor(start), at::tensor(length), layouts[i].layout);
      figures[i].real_tokens += static_cast<double>(packed.real_tokens);
      figures[i].padded_tokens += static_cast<double>(packed.padded_tokens);
      figures[i].computed_tokens += static_cast<double>(
          layouts[i].layout.padded() ? packed.padded_tokens : packed.computed_tokens);
    }
  }
}

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

// The figures of one variant, as a child process prints them and the parent reads them.
json figures_json(const Figures& f) {
  return {
      {"seconds_per_step", f.seconds_per_step},
      {"tokens_per_s", f.tokens_per_s},
      {"pairs_per_s", f.pairs_per_s},
      {"mean_sequence", f.mean_sequence},
      {"peak_memory_mib", f.peak_memory_mib},
      {"tensor_peak_mib", f.tensor_peak_mib}};
}

// The inverse of figures_json (the name stays the parent's).
void read_figures_json(const json& j, Figures& f) {
  f.seconds_per_step = j["seconds_per_step"].get<double>();
  f.tokens_per_s = j["tokens_per_s"].get<double>();
  f.pairs_per_s = j["pairs_per_s"].get<double>();
  f.mean_sequence = j["mean_sequence"].get<double>();
  f.peak_memory_mib = j["peak_memory_mib"].get<double>();
  f.tensor_peak_mib = j["tensor_peak_mib"].get<double>();
}

// Runs this program again on the prepared `dir` for variant `k` (its output passed through) and
// reads back the figures it prints.
void run_child(const BenchOptions& o, const fs::path& dir, size_t k, Figures& f) {
  // This program's own path (popen runs a shell, for which /proc/self/exe is the shell).
  std::string command = "'" + fs::read_symlink("/proc/self/exe").string() + "'";
  for (size_t i = 1; i < o.args.size(); ++i)
    command += " '" + o.args[i] + "'";  // flags and values hold no single quote
  command += " --work '" + dir.string() + "' --child-variant " + std::to_string(k) + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr)
    throw dpo::IoError("cannot run " + command);
  const std::string marker = "BENCH_FIGURES ";
  bool found = false;
  char buffer[4096];
  while (std::fgets(buffer, sizeof buffer, pipe) != nullptr) {
    const std::string line = buffer;
    if (line.rfind(marker, 0) == 0) {
      json j = json::parse(line.substr(marker.size()));
      read_figures_json(j, f);
      found = true;
    } else {
      std::fputs(buffer, stdout);
    }
  }
  const int status = pclose(pipe);
  if (status != 0 || !found)
    throw dpo::DataError("the " + f.name + " run failed (" + command + ")");
}

// The N-rank variant `k`: N copies of this program as ranks (torchrun's variables set by the
// launcher); rank 0 writes its figures to `dir`/figures-k.json.
void run_ranks(const BenchOptions& o, const fs::path& dir, size_t k, int ranks, Figures& f) {
  dpo::LaunchOptions launch;
  launch.nproc_per_node = ranks;
  launch.executable = fs::read_symlink("/proc/self/exe").string();
  launch.argv = o.args;
  launch.argv.insert(
      launch.argv.end(), {"--work", dir.string(), "--child-variant", std::to_string(k)});
  const fs::path out = dir / ("figures-" + std::to_string(k) + ".json");
  fs::remove(out);
  const int code = dpo::run_workers(launch);
  if (code != 0 || !fs::exists(out))
    throw dpo::DataError("the " + f.name + " run failed (exit code " + std::to_string(code) + ")");
  std::ifstream in(out);
  const json j = json::parse(in);
  read_figures_json(j, f);
}

int run(const BenchOptions& o) {
  const bool child = o.child_variant >= 0;
  const bool own_work = o.work.empty();
  const fs::path dir =
      own_work ? fs::temp_directory_path() / ("dpo-bench-train-" + std::to_string(getpid()))
               : fs::path(o.work);
  const int64_t total_steps = o.warmup_steps + o.steps;
  dpo::InitModelOptions init;
  init.out_dir = (dir / "model").string();
  dpo::PrepareOptions prepare;
  prepare.out_path = (dir / "pairs.h5").string();
  dpo::InitModelResult model;
  dpo::PrepareResult prepared;
  if (!child) {  // a child trains on what its parent prepared in `dir`
    fs::remove_all(dir);
    fs::create_directories(dir);

    // 1. Data: enough rows for every step from one pass, plus 16 held-out pairs.
    const std::string data = (dir / "pairs.jsonl").string();
    const int64_t rows = total_steps * o.pairs_per_step + 16;
    std::string source = o.data;
    if (o.data == "synthetic-long") {
      source = (dir / "synthetic-long.jsonl").string();
      write_synthetic_long(source, rows);
    }
    copy_first_rows(source, data, rows);

    // 2. Tokenizer and model.
    const std::vector<std::string> chatml = {"<|im_start|>", "<|im_end|>"};
    std::string tokenizer = o.tokenizer;
    if (tokenizer.empty()) {
      dpo::TokenizerTrainingOptions training;
      training.vocab_size = o.vocab_size;
      training.user_symbols = chatml;
      tokenizer = dpo::train_tokenizer_on_pairs({source}, (dir / "tokenizer").string(), training)
                      .model_path;
    }
    init.preset = o.preset;
    init.tokenizer_path = tokenizer;
    init.template_spec = "chatml";
    if (o.tokenizer.empty()) {
      init.added_special_tokens = chatml;
      init.eos_token = "<|im_end|>";
    }
    init.seed = 1;
    model = dpo::init_model_folder(init);

    // 3. Prepare.
    prepare.files = {data};
    prepare.model_dir = init.out_dir;
    prepare.max_length = o.max_length;
    prepare.validate.val_fraction = 16.0 / static_cast<double>(total_steps * o.pairs_per_step + 16);
    prepare.force = true;
    prepared = dpo::prepare_dataset(prepare);
  }

  // 4. Train: a config as `dpo train` resolves it; device and dtype parsed by the config reader
  // (so --dtype bfloat16 is bf16, with fp32 master weights, as train.dtype=bfloat16 is).
  dpo::Config train;
  dpo::apply_override(train, "train.device=" + o.device);
  dpo::apply_override(train, "train.dtype=" + o.dtype);
  train.data.prepared = prepare.out_path;
  train.model.path = init.out_dir;
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
  train.train.gradient_checkpointing = o.gradient_checkpointing;
  std::vector<Layout> layouts;
  for (const Layout& layout : kLayouts) {
    if (o.layout == "all" || o.layout == layout.name)
      layouts.push_back(layout);
  }
  if (o.lora) {  // LoRA and full training, each in its own process (see the top of the file)
    Layout lora = layouts.front(), full = layouts.front();
    lora.name += " lora-r" + std::to_string(o.lora_rank);
    lora.lora = true;
    full.name += " full";
    layouts = {lora, full};
  }
  if (o.nproc > 1) {  // one process against N ranks, each in its own processes
    Layout one = layouts.front(), many = layouts.front();
    one.name += " 1 process";
    many.name += " " + std::to_string(o.nproc) + " ranks";
    many.ranks = o.nproc;
    layouts = {one, many};
  }
  const bool in_children = o.lora || o.nproc > 1;
  if (!child)
    std::printf(
        "bench_train: %s (%lld parameters), %s %s, %lld pairs per step, %lld warm-up + %lld timed "
        "steps; data %s (%llu train / %llu held-out pairs, max length %lld); layout %s\n",
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
        static_cast<long long>(o.max_length),
        o.layout.c_str());
  std::fflush(stdout);

  std::vector<Figures> figures(layouts.size());
  if (!child)
    count_work(
        prepare.out_path,
        o.pairs_per_step,
        train.train.seed,
        static_cast<int32_t>(model.config.vocab_size),
        figures,
        layouts);
  if (in_children && !child) {
    // The reference log-probs cached before the children start, so that neither pays for them.
    dpo::ScoreRequest score;
    score.model_dir = init.out_dir;
    score.prepared_path = prepare.out_path;
    score.batch_pairs = o.pairs_per_step;
    score.device = train.train.device;
    score.dtype = train.train.dtype;
    score.threads = o.threads;
    score.write_reference = true;
    dpo::score_prepared(score);
  }
  for (size_t k = 0; k < layouts.size(); ++k) {
    Figures& f = figures[k];
    f.name = layouts[k].name;
    f.lora = layouts[k].lora;
    if (child && static_cast<int>(k) != o.child_variant)
      continue;
    if (in_children && !child) {
      if (layouts[k].ranks > 1)
        run_ranks(o, dir, k, layouts[k].ranks, f);
      else
        run_child(o, dir, k, f);
      continue;
    }
    // A rank of the N-rank variant: its share of the global batch and of the cores.
    dpo::RunFlags flags;
    flags.overwrite = true;  // the benchmark's own folder, replaced on every run
    if (layouts[k].ranks > 1) {
      flags.world = dpo::world_from_environment(dpo::process_environment());
      train.train.micro_batch_pairs = o.pairs_per_step / layouts[k].ranks;
      if (train.train.device == dpo::DeviceChoice::cpu)
        train.train.threads = std::max(1, o.threads / layouts[k].ranks);
    }
    train.train.prefix_sharing = layouts[k].layout.prefix_sharing;
    train.train.padding_free = layouts[k].layout.padding_free;
    f.lora = layouts[k].lora;
    train.lora.enabled = layouts[k].lora;
    train.lora.rank = o.lora_rank;
    train.lora.alpha = 2.0 * static_cast<double>(o.lora_rank);
    train.lora.target_modules = {"all-linear"};
    train.train.out_dir = (dir / ("run-" + f.name)).string();
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
    // Each line's `seconds` is taken at the end of its step: the timed window opens at the end
    // of the last warm-up step.
    const double start_seconds =
        lines[static_cast<size_t>(o.warmup_steps) - 1]["seconds"].get<double>();
    double tokens = 0, pairs = 0;
    for (size_t i = static_cast<size_t>(o.warmup_steps); i < lines.size(); ++i) {
      tokens += lines[i]["tokens"].get<double>();
      pairs += lines[i]["pairs"].get<double>();
    }
    const double seconds = lines.back()["seconds"].get<double>() - start_seconds;
    f.seconds_per_step = seconds / static_cast<double>(o.steps);
    f.tokens_per_s = tokens / seconds;
    f.pairs_per_s = pairs / seconds;
    f.mean_sequence = tokens / (2.0 * pairs);
    f.peak_memory_mib = lines.back()["peak_memory_mib"].get<double>();
    f.tensor_peak_mib = lines.back()["tensor_peak_mib"].get<double>();
    if (child && layouts[k].ranks > 1) {
      if (flags.world.rank == 0) {
        std::ofstream out(dir / ("figures-" + std::to_string(k) + ".json"));
        out << figures_json(f).dump() << "\n";
      }
      return 0;
    }
    if (child) {
      std::printf("BENCH_FIGURES %s\n", figures_json(f).dump().c_str());
      return 0;
    }
  }

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
  if (!figures.empty()) {
    const Figures& f0 = figures.front();
    std::printf(
        "%-28s %.1f%% of the padded forward's token slots are padding\n",
        "padding",
        100.0 * (1.0 - f0.real_tokens / f0.padded_tokens));
  }
  for (const Figures& f : figures) {
    const double flops_per_token = train_flops_per_token(model.config, f.mean_sequence);
    const double achieved_tflops = flops_per_token * f.tokens_per_s / 1e12;
    std::printf("\n[%s]\n", f.name.c_str());
    std::printf(
        "%-28s %.3f s/step, %.1f pairs/s\n", "timed steps", f.seconds_per_step, f.pairs_per_s);
    std::printf(
        "%-28s %.0f real tokens/s (mean sequence %.0f tokens)\n",
        "throughput",
        f.tokens_per_s,
        f.mean_sequence);
    std::printf(
        "%-28s %.3f token slots per real token, %.1f%% fewer than the padded forward\n",
        "work",
        f.computed_tokens / f.real_tokens,
        100.0 * (1.0 - f.computed_tokens / f.padded_tokens));
    std::printf(
        "%-28s %.0f MiB (%s)\n",
        "peak memory",
        f.peak_memory_mib,
        o.device == "cuda" ? "CUDA caching allocator, allocated"
                           : "process resident high-water mark");
    if (o.device != "cuda")
      std::printf(
          "%-28s %.0f MiB (peak of live tensor bytes, as CUDA's allocator counts them)\n",
          "tensor peak",
          f.tensor_peak_mib);
    std::printf(
        "%-28s %.3g FLOP/real token, %.3f TFLOP/s achieved\n",
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
  }
  if (o.lora && figures.size() == 2) {
    const Figures& lora = figures[0];
    const Figures& full = figures[1];
    std::printf(
        "\n%-28s %14s %14s %14s %10s\n",
        "full vs LoRA",
        "peak MiB",
        "tensor peak",
        "real tok/s",
        "s/step");
    for (const Figures* f : {&full, &lora}) {
      std::printf(
          "%-28s %14.0f %14.0f %14.0f %10.3f\n",
          f->name.c_str(),
          f->peak_memory_mib,
          f->tensor_peak_mib,
          f->tokens_per_s,
          f->seconds_per_step);
    }
    std::printf(
        "%-28s LoRA holds %.1f%% of full training's peak memory, at %.2fx its speed\n",
        "ratio",
        100.0 * lora.peak_memory_mib / full.peak_memory_mib,
        lora.tokens_per_s / full.tokens_per_s);
    if (o.device != "cuda")
      std::printf(
          "%-28s LoRA holds %.1f%% of full training's tensor peak (the figure a GPU's peak is)\n",
          "",
          100.0 * lora.tensor_peak_mib / full.tensor_peak_mib);
  } else if (o.nproc > 1 && figures.size() == 2) {
    const Figures& one = figures[0];
    const Figures& many = figures[1];
    std::printf("\n%-28s %12s %14s %10s\n", "scaling", "pairs/s", "real tok/s", "s/step");
    for (const Figures* f : {&one, &many}) {
      std::printf(
          "%-28s %12.1f %14.0f %10.3f\n",
          f->name.c_str(),
          f->pairs_per_s,
          f->tokens_per_s,
          f->seconds_per_step);
    }
    const double speedup = many.pairs_per_s / one.pairs_per_s;
    std::printf(
        "%-28s %.2fx with %d ranks: %.0f%% scaling efficiency\n",
        "ratio",
        speedup,
        o.nproc,
        100.0 * speedup / o.nproc);
  } else if (figures.size() > 1) {
    const Figures& base = figures.front();
    std::printf(
        "\n%-15s %10s %14s %8s %14s %8s\n",
        "layout",
        "s/step",
        "real tok/s",
        "speed",
        "slots/real",
        "saved");
    for (const Figures& f : figures) {
      std::printf(
          "%-15s %10.3f %14.0f %7.2fx %14.3f %7.1f%%\n",
          f.name.c_str(),
          f.seconds_per_step,
          f.tokens_per_s,
          f.tokens_per_s / base.tokens_per_s,
          f.computed_tokens / f.real_tokens,
          100.0 * (1.0 - f.computed_tokens / f.padded_tokens));
    }
  }
  if (own_work)
    fs::remove_all(dir);
  return 0;
}

}  // namespace

int main(int argc_in, char** argv_in) {
  BenchOptions o;
  // The flags without a value first; the rest come in pairs.
  std::vector<char*> args;
  for (int i = 0; i < argc_in; ++i) {
    const std::string flag = argv_in[i];
    o.args.push_back(flag);
    if (flag == "--lora")
      o.lora = true;
    else if (flag == "--gradient-checkpointing")
      o.gradient_checkpointing = true;
    else
      args.push_back(argv_in[i]);
  }
  const int argc = static_cast<int>(args.size());
  char** argv = args.data();
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
    else if (flag == "--layout")
      o.layout = value;
    else if (flag == "--lora-rank")
      o.lora_rank = std::atoll(value.c_str());
    else if (flag == "--nproc")
      o.nproc = std::atoi(value.c_str());
    else if (flag == "--child-variant")
      o.child_variant = std::atoi(value.c_str());
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
  bool known_layout = o.layout == "all";
  for (const Layout& layout : kLayouts)
    known_layout = known_layout || o.layout == layout.name;
  if (!known_layout) {
    std::fprintf(
        stderr,
        "bench_train: --layout %s: use padded, shared, packed, shared+packed or all\n",
        o.layout.c_str());
    return 2;
  }
  if (o.nproc > 1 && (o.lora || o.layout == "all" || o.pairs_per_step % o.nproc != 0)) {
    std::fprintf(
        stderr,
        "bench_train: --nproc compares one layout without --lora, and --pairs-per-step must be a "
        "multiple of it\n");
    return 2;
  }
  if (o.lora && o.layout == "all") {
    std::fprintf(stderr, "bench_train: --lora compares one layout: give --layout NAME\n");
    return 2;
  }
  if (o.steps < 1 || o.warmup_steps < 1 || o.pairs_per_step < 1 || o.lora_rank < 1) {
    std::fprintf(
        stderr,
        "bench_train: --steps, --warmup-steps, --pairs-per-step and --lora-rank must be at least "
        "1\n");
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
