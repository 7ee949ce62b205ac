#include "trainer/scoring.h"

#include <ATen/ATen.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/atomic_file.h"
#include "core/error.h"
#include "dataloader/prepared_dataset.h"
#include "distributed/communicator.h"
#include "model/checkpoint.h"
#include "model/cpu_runtime.h"
#include "model/llama.h"
#include "tokenizer/tokenizer.h"
#include "trainer/device_setup.h"
#include "trainer/pair_scoring.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace dpo {

ScoreSummary score_prepared(const ScoreRequest& request) {
  auto start = std::chrono::steady_clock::now();
  if (request.split != "train" && request.split != "val" && request.split != "all") {
    throw UsageError("--split must be train, val or all, got '" + request.split + "'");
  }
  if (request.out_path.empty() && !request.write_reference) {
    throw UsageError("nothing to write: give --out FILE (.jsonl or .h5) and/or --write-reference");
  }
  // Checked before any work: outputs that need every pair.
  const bool complete = request.split == "all";
  const std::string& out = request.out_path;
  const bool h5_out = out.size() > 3 && out.compare(out.size() - 3, 3, ".h5") == 0;
  if (h5_out && !complete)
    throw UsageError("an .h5 output holds every pair: use --split all, or a .jsonl output");
  if (request.write_reference && !complete)
    throw UsageError("--write-reference needs --split all (the trainer needs every pair)");
  Communicator* ranks = request.communicator;
  const bool main_rank = ranks == nullptr || ranks->is_main();
  at::Device device =
      resolve_device(request.device, ranks != nullptr ? ranks->world().local_rank : 0);
  const unsigned ranks_here =
      ranks != nullptr ? static_cast<unsigned>(ranks->world().local_world_size) : 1;
  at::ScalarType dtype = compute_dtype(request.dtype);
  set_cpu_threads(
      request.threads > 0
          ? request.threads
          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency() / ranks_here)));
  const PreparedHeader prepared_header = read_prepared_header(request.prepared_path);
  Tokenizer tokenizer = tokenizer_for_prepared(request.model_dir, prepared_header);
  LoadedModel loaded = load_pretrained(request.model_dir, dtype, device);
  check_prepared_matches_model(
      prepared_header, request.prepared_path, request.model_dir, tokenizer);
  PreparedDataset data =
      read_prepared_dataset(request.prepared_path, static_cast<int32_t>(loaded.config.vocab_size));
  for (const char* name : {"train", "val"}) {
    if (request.split == "all" || request.split == name) {
      require_fits_context(
          data.split(name),
          name,
          loaded.config.max_position_embeddings,
          request.prepared_path,
          request.model_dir);
    }
  }

  ScoreSummary summary;
  summary.model_hash = model_content_hash(*loaded.model);
  summary.device = device.str();
  ScoreOptions options;
  options.batch_pairs = request.batch_pairs;
  options.pad_id = data.header.pad_id >= 0 ? data.header.pad_id : 0;
  options.model_label = "the model '" + request.model_dir + "'";
  options.communicator = ranks;
  options.progress = [main_rank](size_t done, size_t total) {
    if (main_rank && isatty(fileno(stderr)))
      std::fprintf(stderr, "\rscored %zu/%zu pairs", done, total);
  };
  ReferenceLogps logps;
  logps.model_hash = summary.model_hash;
  logps.dtype = model_dtype_name(dtype);
  std::string lines;
  for (const char* name : {"train", "val"}) {
    const PreparedSplit& split = data.split(name);
    if (request.split != "all" && request.split != name)
      continue;
    options.split_name = name;  // a non-finite log-prob stops here, before anything is written
    PairScores scores = score_pairs(*loaded.model, split, device, options);
    ReferenceLogps::Split& out = std::string(name) == "train" ? logps.train : logps.val;
    out = {
        scores.chosen_logps, scores.rejected_logps, scores.chosen_tokens, scores.rejected_tokens};
    summary.pairs += static_cast<int64_t>(split.size());
    for (size_t i = 0; i < split.size(); ++i) {
      summary.tokens += split.chosen_length(i) + split.rejected_length(i);
      json line = {
          {"split", name},
          {"pair_index", i},
          {"id", split.row_ids[i]},
          {"source_line", split.source_line[i]},
          {"chosen_logps", scores.chosen_logps[i]},
          {"rejected_logps", scores.rejected_logps[i]},
          {"chosen_tokens", scores.chosen_tokens[i]},
          {"rejected_tokens", scores.rejected_tokens[i]}};
      lines += line.dump() + "\n";
    }
  }
  if (main_rank && isatty(fileno(stderr)))
    std::fprintf(stderr, "\n");
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  if (!main_rank) {
    ranks->barrier("writing the scores");  // rank 0 writes them
    return summary;
  }
  if (!out.empty()) {
    if (h5_out) {
      std::string temp = out + ".copying";
      std::error_code error;
      fs::copy_file(request.prepared_path, temp, fs::copy_options::overwrite_existing, error);
      if (error) {
        fs::remove(temp, error);
        throw IoError(
            "cannot copy '" + request.prepared_path + "' to '" + temp + "': " + error.message());
      }
      try {
        write_reference_logps(temp, logps);
      } catch (...) {
        fs::remove(temp, error);
        throw;
      }
      fs::rename(temp, out, error);
      if (error) {
        const std::string reason = error.message();
        fs::remove(temp, error);
        throw IoError("cannot rename '" + temp + "' to '" + out + "': " + reason);
      }
    } else {
      write_file_atomically(out, lines);
    }
  }
  if (request.write_reference) {
    write_reference_logps(request.prepared_path, logps);
  }
  if (ranks != nullptr)
    ranks->barrier("writing the scores");
  return summary;
}

}  // namespace dpo
