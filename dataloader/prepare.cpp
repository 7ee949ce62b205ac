#include "dataloader/prepare.h"

#include <sys/stat.h>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <thread>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/file_io.h"
#include "core/format.h"
#include "core/hash.h"
#include "core/json_file.h"
#include "core/log.h"
#include "dataloader/prepared_dataset.h"
#include "templates/chat_template.h"
#include "tokenizer/hf_tokenizer_config.h"
#include "tokenizer/tokenizer.h"

namespace dpo {
namespace {

struct AcceptedRow {
  PreferenceRow row;
  RowLocation where;
  Split split;
};

bool file_exists(const std::string& path) {
  struct stat info {};
  return stat(path.c_str(), &info) == 0;
}

// SHA-256 over the bytes of every input file, in order (names are not part of it: moving a
// file does not change the data).
std::string source_sha256(const std::vector<std::string>& files) {
  Sha256 hash;
  std::vector<char> buffer(1 << 20);
  for (const std::string& path : files) {
    std::ifstream file(path, std::ios::binary);
    if (!file)
      throw IoError("cannot read '" + path + "'");
    while (file) {
      file.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
      hash.update(buffer.data(), static_cast<size_t>(file.gcount()));
    }
    hash.update("\0file-end\0", 10);
  }
  return hash.hex_digest();
}

std::string options_json(const PrepareOptions& options) {
  nlohmann::json json = {
      {"max_length", options.max_length},
      {"length_policy", length_policy_name(options.length_policy)},
      {"add_bos", bos_policy_name(options.bos_policy)},
      {"val_fraction", options.validate.val_fraction},
      {"seed", options.validate.seed},
      {"format", data_format_name(options.validate.format)},
      {"fields",
       {{"prompt", options.validate.fields.prompt},
        {"chosen", options.validate.fields.chosen},
        {"rejected", options.validate.fields.rejected},
        {"system", options.validate.fields.system},
        {"metadata", options.validate.fields.metadata}}},
      // Since provenance is stored per pair: files prepared before are prepared again once.
      {"provenance", 1},
      {"prepared_version", kPreparedVersion},
  };
  return json.dump();
}

// --out must not be one of the inputs (compared by device and inode, so also through a symlink
// or a hard link), and what exists there must be a prepared file unless --overwrite says to
// replace it: a mistyped --out never turns someone's data into HDF5.
void check_output(const PrepareOptions& options) {
  const std::string& out = options.out_path;
  struct stat target {};
  if (::stat(out.c_str(), &target) != 0)
    return;  // nothing there yet
  if (S_ISDIR(target.st_mode)) {
    throw UsageError(
        "--out '" + out + "' is a folder",
        "name the file to write, e.g. --out " + (out.back() == '/' ? out : out + "/") +
            "prepared.h5");
  }
  std::vector<std::string> inputs = options.files;
  if (!options.tokenizer_path.empty())
    inputs.push_back(options.tokenizer_path);
  if (!options.template_spec.empty() && is_regular_file(options.template_spec))
    inputs.push_back(options.template_spec);
  for (const std::string& input : inputs) {
    struct stat source {};
    if (::stat(input.c_str(), &source) != 0)
      continue;
    if (source.st_dev == target.st_dev && source.st_ino == target.st_ino) {
      throw UsageError(
          "--out '" + out + "' is the input '" + input + "'" +
              (input == out ? "" : " (the same file by another path or link)") +
              ": writing it would destroy the input",
          "write the prepared file elsewhere, e.g. --out prepared.h5");
    }
  }
  std::string why = not_a_prepared_file(out);
  if (why.empty())
    return;
  if (!options.overwrite) {
    throw UsageError(
        "--out '" + out + "' exists and is not a prepared file (" + why + ")",
        "choose another --out, or pass --overwrite to replace that file");
  }
  DPO_LOG_WARN(
      "prepare", "replacing '%s', which is not a prepared file (--overwrite)", out.c_str());
}

// What the model folder's config.json says about the sizes a sequence may have; the dataloader
// does not link the model library, so the two keys are read here (with model_config's default
// for a missing max_position_embeddings). Nothing when the folder has no config.json.
struct ModelLimits {
  std::string config_path;
  int64_t vocab_size = 0;
  int64_t max_position_embeddings = 0;
};

std::optional<ModelLimits> model_limits(const std::string& model_dir) {
  ModelLimits limits;
  limits.config_path = model_dir + "/config.json";
  if (!is_regular_file(limits.config_path))
    return std::nullopt;
  nlohmann::json config =
      parse_json_file_text(read_file(limits.config_path, "model config"), limits.config_path);
  auto integer = [&](const char* key, int64_t fallback) -> int64_t {
    if (!config.is_object() || !config.contains(key))
      return fallback;
    const nlohmann::json& value = config[key];
    if (!value.is_number_integer() || value.get<int64_t>() <= 0) {
      throw ConfigError(
          "'" + limits.config_path + "': " + key + " must be a positive integer, got " +
              value.dump(),
          "fix the model's config.json");
    }
    return value.get<int64_t>();
  };
  limits.vocab_size = integer("vocab_size", 0);
  limits.max_position_embeddings = integer("max_position_embeddings", 2048);
  return limits;
}

// Every id must have an embedding row, and every sequence (at most max_length tokens after the
// length policy) must fit the model's positions: checked here, not found out by `train`.
void check_model_limits(
    const std::string& model_dir, const Tokenizer& tokenizer, int64_t max_length) {
  std::optional<ModelLimits> limits = model_limits(model_dir);
  if (!limits)
    return;
  if (limits->vocab_size > 0 && tokenizer.vocab_size() > limits->vocab_size) {
    throw ConfigError(
        "the tokenizer of '" + model_dir + "' has " + std::to_string(tokenizer.vocab_size()) +
            " ids (up to " + std::to_string(tokenizer.vocab_size() - 1) + ") but '" +
            limits->config_path + "' has vocab_size " + std::to_string(limits->vocab_size) +
            ": ids from " + std::to_string(limits->vocab_size) + " on have no embedding",
        "use the tokenizer the model was trained with, or a model whose vocab_size is at least " +
            std::to_string(tokenizer.vocab_size()));
  }
  if (max_length > limits->max_position_embeddings) {
    throw ConfigError(
        "--max-length " + std::to_string(max_length) + " is over max_position_embeddings " +
            std::to_string(limits->max_position_embeddings) + " in '" + limits->config_path +
            "': longer sequences cannot be scored by this model",
        "pass --max-length " + std::to_string(limits->max_position_embeddings) + " or less");
  }
}

}  // namespace

PrepareResult prepare_dataset(const PrepareOptions& options) {
  auto start = std::chrono::steady_clock::now();
  if (options.out_path.empty())
    throw UsageError("--out is required");
  if (options.max_length < 8)
    throw UsageError("--max-length must be at least 8");
  if (options.model_dir.empty() == options.tokenizer_path.empty()) {
    throw UsageError("give exactly one of --model and --tokenizer");
  }
  if (!options.tokenizer_path.empty() && options.template_spec.empty()) {
    throw UsageError("--tokenizer needs --template (a built-in name, .jinja file or model folder)");
  }

  check_output(options);

  // 1. The tokenizer and the template, pinned by their hashes; the model's limits.
  Tokenizer tokenizer =
      options.model_dir.empty()
          ? Tokenizer::from_model_file(options.tokenizer_path)
          : Tokenizer::from_model_folder(options.model_dir, options.tokenizer_format);
  if (!options.model_dir.empty())
    check_model_limits(options.model_dir, tokenizer, options.max_length);
  ChatTemplate chat_template =
      ChatTemplate::load(options.template_spec.empty() ? options.model_dir : options.template_spec);
  ChatTemplateVariables variables;
  variables.bos_token = tokenizer.bos_token();
  variables.eos_token = tokenizer.eos_token();
  if (tokenizer.unk_id() >= 0)
    variables.unk_token = tokenizer.id_to_piece(tokenizer.unk_id());
  if (tokenizer.pad_id() >= 0)
    variables.pad_token = tokenizer.id_to_piece(tokenizer.pad_id());

  PrepareResult result;
  result.tokenizer_sha256 = tokenizer.sha256();
  result.template_sha256 = chat_template.sha256();
  result.source_sha256 = source_sha256(options.files);
  std::string option_text = options_json(options);
  result.fingerprint = sha256_hex(
      result.source_sha256 + "\n" + result.tokenizer_sha256 + "\n" + result.template_sha256 + "\n" +
      option_text);

  // 2. Already prepared with the same inputs and options: nothing to do.
  if (!options.force && file_exists(options.out_path)) {
    try {
      PreparedHeader existing = read_prepared_header(options.out_path);
      if (existing.fingerprint == result.fingerprint) {
        result.reused = true;
        PreparedDataset dataset = read_prepared_dataset(options.out_path);
        result.train_pairs = dataset.train.size();
        result.val_pairs = dataset.val.size();
        result.seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        return result;
      }
      DPO_LOG_INFO(
          "prepare",
          "'%s' was prepared from other inputs or options; rewriting it",
          options.out_path.c_str());
    } catch (const Error& error) {
      // A prepared file of another version, or one that fails its checks: rewritten.
      DPO_LOG_WARN(
          "prepare", "rewriting '%s' (%s)", options.out_path.c_str(), error.message().c_str());
    }
  }

  // 3. Validation (the same report and split as dpo validate) streams the accepted rows; they
  // are rendered and tokenized a batch at a time on every core (4.), and appended to the splits
  // in reading order (5.). Only one batch of rows is held: memory grows by the token ids and a
  // few numbers per pair, not by the rows' text.
  RenderFunction render = [&](const std::vector<Message>& messages, bool add_generation_prompt) {
    return chat_template.render(messages, add_generation_prompt, variables);
  };
  PairEncoderOptions encoder_options;
  encoder_options.max_length = options.max_length;
  encoder_options.length_policy = options.length_policy;
  encoder_options.bos_policy = options.bos_policy;
  PairEncoder encoder(tokenizer, render, encoder_options);
  const int threads = options.threads > 0
                          ? options.threads
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const size_t batch_rows = 2048 * static_cast<size_t>(threads);

  PreparedSplit train, val;
  PairEncodeCounts train_counts, val_counts;
  std::map<std::string, size_t> examples_per_code;
  std::vector<AcceptedRow> rows;
  std::vector<PairEncodeResult> encoded;
  auto encode_rows = [&]() {
    encoded.assign(rows.size(), PairEncodeResult{});
    std::atomic<size_t> next{0};
    std::mutex counts_mutex;
    std::exception_ptr failure;
    auto work = [&]() {
      PairEncodeCounts local_train, local_val;
      try {
        for (size_t i = next.fetch_add(64); i < rows.size(); i = next.fetch_add(64)) {
          for (size_t j = i; j < std::min(rows.size(), i + 64); ++j) {
            const AcceptedRow& row = rows[j];
            std::string where =
                options.files[row.where.file_index] + ":" + std::to_string(row.where.line);
            encoded[j] =
                encoder.encode(row.row, row.split == Split::train ? local_train : local_val, where);
          }
        }
      } catch (...) {
        std::lock_guard<std::mutex> lock(counts_mutex);
        if (!failure)
          failure = std::current_exception();
        next = rows.size();
      }
      std::lock_guard<std::mutex> lock(counts_mutex);
      train_counts.merge(local_train);
      val_counts.merge(local_val);
    };
    std::vector<std::thread> pool;
    const size_t helpers = std::min(static_cast<size_t>(threads), rows.size() / 64 + 1) - 1;
    for (size_t t = 0; t < helpers; ++t)
      pool.emplace_back(work);
    work();
    for (std::thread& thread : pool)
      thread.join();
    if (failure)
      std::rethrow_exception(failure);

    for (size_t j = 0; j < rows.size(); ++j) {
      const PairEncodeResult& outcome = encoded[j];
      if (outcome.issue) {
        std::string code = issue_info(*outcome.issue).name;
        if (examples_per_code[code]++ < options.validate.max_examples) {
          result.issues.push_back(
              {code,
               options.files[rows[j].where.file_index] + ":" + std::to_string(rows[j].where.line),
               outcome.message});
        }
      }
      if (!outcome.pair)
        continue;
      PreparedSplit& split = rows[j].split == Split::train ? train : val;
      split.add(
          *outcome.pair,
          static_cast<int32_t>(rows[j].where.file_index),
          static_cast<int64_t>(rows[j].where.line),
          rows[j].row.id,
          rows[j].row.metadata_json,
          rows[j].row.fields_json);
    }
    rows.clear();
    encoded.clear();
  };
  result.validation = validate_files(
      options.files,
      options.validate,
      [&](const PreferenceRow& row, const RowLocation& where, Split split) {
        rows.push_back({row, where, split});
        if (rows.size() >= batch_rows)
          encode_rows();
      });
  encode_rows();
  result.train_counts = train_counts;
  result.val_counts = val_counts;
  result.train_pairs = train.size();
  result.val_pairs = val.size();
  if (options.require_train && train.size() == 0) {
    throw DataError(
        "no pair is left for training after validation and tokenization:\n" + rows_report(result),
        "every row was rejected, dropped or held out: fix the rows named above, or "
        "check --format/--fields and --max-length");
  }

  // 6. One file, written atomically (its folder created when missing).
  std::error_code mkdir_error;
  std::filesystem::create_directories(parent_directory(options.out_path), mkdir_error);
  if (mkdir_error)
    throw IoError(
        "cannot create the folder of '" + options.out_path + "': " + mkdir_error.message());
  PreparedHeader header;
  header.fingerprint = result.fingerprint;
  header.source_sha256 = result.source_sha256;
  header.tokenizer_sha256 = result.tokenizer_sha256;
  header.tokenizer_format = tokenizer_format_name(tokenizer.format());
  header.template_sha256 = result.template_sha256;
  header.template_text = chat_template.text();
  header.max_length = options.max_length;
  header.options_json = option_text;
  header.source_files = options.files;
  header.validation_json = report_to_json(result.validation);
  header.vocab_size = tokenizer.vocab_size();
  header.bos_id = tokenizer.bos_id();
  header.eos_id = tokenizer.eos_id();
  header.pad_id = tokenizer.pad_id();
  write_prepared_dataset(options.out_path, header, train, val);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

std::string rows_report(const PrepareResult& result) {
  std::ostringstream out;
  out << report_summary(result.validation) << "\n";
  auto line = [&](const char* name, const PairEncodeCounts& c) {
    out << "  " << name << ": " << c.rows << " rows -> " << c.kept << " pairs kept";
    out << "; over max length " << c.over_length << " (dropped " << c.dropped_too_long
        << ", prompt truncated " << c.prompt_truncated << ", completion truncated "
        << c.completion_truncated << ")";
    out << "; prefix mismatches " << c.prefix_mismatches << ", template errors "
        << c.template_errors << ", double BOS " << c.double_bos << ", empty completions "
        << c.empty_completions;
    out << "; tokens prompt " << c.prompt_tokens << " chosen " << c.chosen_tokens << " rejected "
        << c.rejected_tokens << "\n";
  };
  out << "tokenization\n";
  line("train", result.train_counts);
  line("val  ", result.val_counts);
  for (const EncodeIssue& issue : result.issues) {
    // The encoder's messages usually start with the location already: print it once.
    bool located = issue.message.compare(0, issue.where.size(), issue.where) == 0;
    out << "  " << issue.code << " " << (located ? "" : issue.where + ": ") << issue.message
        << "\n";
  }
  return out.str();
}

std::string prepare_summary(const PrepareResult& result, const std::string& out_path) {
  std::ostringstream out;
  if (result.reused) {
    out << out_path << " is up to date (fingerprint " << result.fingerprint.substr(0, 16)
        << "): " << result.train_pairs << " train pairs, " << result.val_pairs
        << " held-out pairs\n";
    return out.str();
  }
  out << rows_report(result);
  out << "wrote " << out_path << ": " << result.train_pairs << " train pairs, " << result.val_pairs
      << " held-out pairs in " << format("%.2f", result.seconds) << " s\n";
  out << "  fingerprint " << result.fingerprint << "\n  tokenizer   " << result.tokenizer_sha256
      << "\n  template    " << result.template_sha256 << "\n";
  return out.str();
}

}  // namespace dpo
