#include "dataloader/prepared_inspect.h"

#include <optional>
#include <sstream>

#include "core/error.h"
#include "core/format.h"
#include "dataloader/prepared_dataset.h"
#include "tokenizer/tokenizer.h"

namespace dpo {
namespace {

void length_row(std::ostringstream& out, const char* name, const TokenLengthSummary& s) {
  out << format(
      "  %-10s %9.1f %8lld %8lld %8lld %8lld %8lld\n",
      name,
      s.mean,
      static_cast<long long>(s.min),
      static_cast<long long>(s.p50),
      static_cast<long long>(s.p90),
      static_cast<long long>(s.p99),
      static_cast<long long>(s.max));
}

std::string ids_text(const IdSpan& ids) {
  std::string text;
  for (int32_t id : ids)
    text += (text.empty() ? "" : " ") + std::to_string(id);
  return text;
}

}  // namespace

std::string inspect_prepared(const InspectOptions& options) {
  PreparedDataset data = read_prepared_dataset(options.path);  // verifies offsets and ids
  const PreparedHeader& h = data.header;
  std::optional<Tokenizer> tokenizer;
  if (!options.model_dir.empty())
    tokenizer = tokenizer_for_prepared(options.model_dir, h);
  else if (!options.tokenizer_path.empty())
    tokenizer = Tokenizer::from_model_file(options.tokenizer_path);

  std::ostringstream out;
  out << options.path << ": dpo-prepared version " << h.version
      << ", verified (offsets, sizes, ids < " << h.vocab_size << ", no empty completion)\n";
  out << "  created by    " << h.created_by << "\n";
  out << "  fingerprint   " << h.fingerprint << "\n";
  out << "  source        " << h.source_sha256 << "\n";
  for (const std::string& file : h.source_files)
    out << "                " << file << "\n";
  out << "  tokenizer     " << h.tokenizer_sha256 << " (vocab " << h.vocab_size << ", bos "
      << h.bos_id << ", eos " << h.eos_id << ", pad " << h.pad_id << ", "
      << (h.tokenizer_format == "json" ? "tokenizer.json" : "tokenizer.model") << ")\n";
  out << "  template      " << h.template_sha256 << " (" << h.template_text.size() << " bytes)\n";
  out << "  max length    " << h.max_length << "\n";
  out << "  options       " << h.options_json << "\n";
  for (const char* name : {"train", "val"}) {
    const PreparedSplit& split = data.split(name);
    SplitLengthStats stats = length_stats(split);
    size_t flagged = 0;
    for (uint8_t flag : split.flags)
      flagged += flag != 0;
    out << "\n"
        << name << ": " << split.size() << " pairs, " << stats.total_tokens << " tokens, "
        << flagged << " truncated\n";
    out << "  tokens          mean      min      p50      p90      p99      max\n";
    length_row(out, "prompt", stats.prompt);
    length_row(out, "chosen", stats.chosen);
    length_row(out, "rejected", stats.rejected);
  }
  std::vector<std::string> references = list_reference_logps(options.path);
  out << "\nreference log-probs cached for " << references.size() << " model(s)";
  for (const std::string& hash : references) {
    // Verified like a training run would (checksum, sizes, token counts); throws when not.
    std::optional<ReferenceLogps> cached = read_reference_logps(options.path, hash);
    out << "\n  " << hash << (cached ? " (verified)" : " (no checksum: recomputed when used)");
  }
  out << "\n";

  if (tokenizer && tokenizer->sha256() != h.tokenizer_sha256) {
    out << "\nwarning: the tokenizer given (" << tokenizer->sha256()
        << ") is not the one the file was prepared with\n";
  }
  if (options.pair >= 0) {
    const PreparedSplit& split = data.split(options.split);
    if (static_cast<size_t>(options.pair) >= split.size()) {
      throw UsageError(
          "--pair " + std::to_string(options.pair) + " is out of range: the " + options.split +
          " split has " + std::to_string(split.size()) + " pairs");
    }
    size_t i = static_cast<size_t>(options.pair);
    PairTokens pair = split.pair(i);
    int32_t file = split.source_file[i];
    out << "\n"
        << options.split << " pair " << i << ": id '" << split.row_ids[i] << "', "
        << (file >= 0 && static_cast<size_t>(file) < h.source_files.size()
                ? h.source_files[static_cast<size_t>(file)]
                : "?")
        << ":" << split.source_line[i] << (split.flags[i] ? " (truncated)" : "") << "\n";
    auto show = [&](const char* name, const IdSpan& ids) {
      out << "--- " << name << " (" << ids.size << " tokens)\n";
      if (tokenizer)
        out << tokenizer->decode(ids.to_vector()) << "\n";
      else
        out << ids_text(ids) << "\n";
    };
    show("prompt", pair.prompt);
    show("chosen completion", pair.chosen);
    show("rejected completion", pair.rejected);
    if (!tokenizer)
      out << "(pass --model DIR or --tokenizer FILE to see text)\n";
  }
  return out.str();
}

}  // namespace dpo
