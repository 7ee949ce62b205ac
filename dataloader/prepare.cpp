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
#include <sstream>
#include <thread>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/format.h"
#include "core/hash.h"
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
      {"val_fraction", options.validate.val_fraction},
      {"seed", options.validate.seed},
      {"format", data_format_name(options.validate.format)},
      {"fields",
       {{"prompt", options.validate.fields.prompt},
        {"chosen", options.validate.fields.chosen},
        {"rejected", options.validate.fields.rejected},
        {"system", options.validate.fields.system}}},
      {"prepared_version", kPreparedVersion},
  };
  return json.dump();
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

  // 1. The tokenizer and the template, pinned by their hashes.
  Tokenizer tokenizer = options.model_dir.empty()
                            ? Tokenizer::from_model_file(options.tokenizer_path)
                            : Tokenizer::from_model_folder(options.model_dir);
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
      DPO_LOG_WARN(
          "prepare",
          "'%s' exists but is not a prepared file (%s); rewriting it",
          options.out_path.c_str(),
          error.what());
    }
  }

  // 3. Validation (the same report and split as dpo validate); accepted rows kept in memory.
  std::vector<AcceptedRow> rows;
  result.validation = validate_files(
      options.files,
      options.validate,
      [&](const PreferenceRow& row, const RowLocation& where, Split split) {
        rows.push_back({row, where, split});
      });

  // 4. Rendering and tokenization on every core; results keep the reading order.
  RenderFunction render = [&](const std::vector<Message>& messages, bool add_generation_prompt) {
    return chat_template.render(messages, add_generation_prompt, variables);
  };
  PairEncoderOptions encoder_options;
  encoder_options.max_length = options.max_length;
  encoder_options.length_policy = options.length_policy;
  PairEncoder encoder(tokenizer, render, encoder_options);

  std::vector<PairEncodeResult> encoded(rows.size());
  std::vector<PairEncodeCounts> counts(rows.size() > 0 ? 2 : 0);
  int threads = options.threads > 0
                    ? options.threads
                    : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::atomic<size_t> next{0};
  std::mutex counts_mutex;
  std::exception_ptr failure;
  PairEncodeCounts train_counts, val_counts;
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
  for (int t = 1; t < threads; ++t)
    pool.emplace_back(work);
  work();
  for (std::thread& thread : pool)
    thread.join();
  if (failure)
    std::rethrow_exception(failure);
  result.train_counts = train_counts;
  result.val_counts = val_counts;

  // 5. Assemble the splits in reading order.
  PreparedSplit train, val;
  std::map<std::string, size_t> examples_per_code;
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
        rows[j].row.id);
  }
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
