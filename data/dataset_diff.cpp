// Dataset diff: pair matching (id, then prompt key), the side-by-side validation deltas and the
// data-regression verdict of `dpo compare`. See dataset_diff.h for the matching rules.
#include "data/dataset_diff.h"

#include <deque>
#include <set>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "core/format.h"
#include "core/hash.h"
#include "core/text.h"
#include "data/pair_key.h"
#include "data/timestamp.h"

namespace dpo {

namespace {

using json = nlohmann::ordered_json;

enum class Outcome : uint8_t { none, unchanged, changed, label_flip };

// One accepted pair, reduced to hashes and where it is.
struct PairRecord {
  Hash128 prompt, chosen, rejected;
  uint64_t line = 0;
  int64_t index = -1;
  uint32_t file_index = 0;
  std::string id;
  int64_t match = -1;  // index of the matched pair in the other version
  bool by_id = false;
  Outcome outcome = Outcome::none;
};

std::vector<PairRecord> read_pairs(
    const std::vector<std::string>& files,
    const ValidateOptions& options,
    ValidationReport* report) {
  std::vector<PairRecord> pairs;
  PairKeyHasher keys;  // the validator's keys (pair_key.h), so that both agree
  *report = validate_files(
      files, options, [&](const PreferenceRow& row, const RowLocation& where, Split) {
        PairRecord record;
        const PairHashes hashes = keys.hashes(row);
        record.prompt = hashes.prompt;
        record.chosen = hashes.chosen;
        record.rejected = hashes.rejected;
        record.line = where.line;
        record.index = where.index;
        record.file_index = where.file_index;
        record.id = row.id;
        pairs.push_back(std::move(record));
      });
  return pairs;
}

// Two pairs with different non-empty ids are different pairs.
bool compatible(const PairRecord& a, const PairRecord& b) {
  return a.id.empty() || b.id.empty() || a.id == b.id;
}

void link(
    std::vector<PairRecord>& base, size_t b, std::vector<PairRecord>& cand, size_t c, bool by_id) {
  PairRecord& x = base[b];
  PairRecord& y = cand[c];
  x.match = static_cast<int64_t>(c);
  y.match = static_cast<int64_t>(b);
  x.by_id = y.by_id = by_id;
  Outcome outcome = Outcome::changed;
  if (x.prompt == y.prompt && x.chosen == y.chosen && x.rejected == y.rejected) {
    outcome = Outcome::unchanged;
  } else if (x.prompt == y.prompt && x.chosen == y.rejected && x.rejected == y.chosen) {
    outcome = Outcome::label_flip;
  }
  x.outcome = y.outcome = outcome;
}

void match_pairs(std::vector<PairRecord>& base, std::vector<PairRecord>& cand) {
  // 1. By id: the k-th occurrence of an id with the k-th occurrence in the other version.
  std::unordered_map<std::string, std::deque<size_t>> by_id;
  for (size_t c = 0; c < cand.size(); ++c) {
    if (!cand[c].id.empty())
      by_id[cand[c].id].push_back(c);
  }
  for (size_t b = 0; b < base.size(); ++b) {
    if (base[b].id.empty())
      continue;
    auto found = by_id.find(base[b].id);
    if (found == by_id.end() || found->second.empty())
      continue;
    link(base, b, cand, found->second.front(), true);
    found->second.pop_front();
  }

  // 2. By prompt key among the rest: identical pairs first, then label flips, then any pair
  // with the same prompt, each pass over the baseline in reading order.
  std::unordered_map<Hash128, std::vector<size_t>, Hash128Hasher> by_triple;
  std::unordered_map<Hash128, std::deque<size_t>, Hash128Hasher> by_prompt;
  for (size_t c = 0; c < cand.size(); ++c) {
    if (cand[c].match >= 0)
      continue;
    by_triple[pair_key(cand[c].prompt, cand[c].chosen, cand[c].rejected)].push_back(c);
    by_prompt[cand[c].prompt].push_back(c);
  }
  auto take_from = [&](std::vector<size_t>& list, const PairRecord& x) -> int64_t {
    for (size_t i = 0; i < list.size(); ++i) {
      size_t c = list[i];
      if (cand[c].match < 0 && compatible(x, cand[c])) {
        list.erase(list.begin() + static_cast<std::ptrdiff_t>(i));
        return static_cast<int64_t>(c);
      }
    }
    return -1;
  };
  for (bool swapped : {false, true}) {
    for (size_t b = 0; b < base.size(); ++b) {
      PairRecord& x = base[b];
      if (x.match >= 0)
        continue;
      Hash128 key = swapped ? pair_key(x.prompt, x.rejected, x.chosen)
                            : pair_key(x.prompt, x.chosen, x.rejected);
      auto found = by_triple.find(key);
      if (found == by_triple.end())
        continue;
      int64_t c = take_from(found->second, x);
      if (c >= 0)
        link(base, b, cand, static_cast<size_t>(c), false);
    }
  }
  for (size_t b = 0; b < base.size(); ++b) {
    PairRecord& x = base[b];
    if (x.match >= 0)
      continue;
    auto found = by_prompt.find(x.prompt);
    if (found == by_prompt.end())
      continue;
    std::deque<size_t>& queue = found->second;
    while (!queue.empty() && cand[queue.front()].match >= 0)
      queue.pop_front();
    // Usually the front; an id-less pair may have to skip candidates with other ids.
    for (auto it = queue.begin(); it != queue.end(); ++it) {
      if (cand[*it].match < 0 && compatible(x, cand[*it])) {
        size_t c = *it;
        queue.erase(it);
        link(base, b, cand, c, false);
        break;
      }
    }
  }
}

PairLocation location_of(const PairRecord& record, const std::vector<std::string>& files) {
  PairLocation where;
  where.file = record.file_index < files.size() ? files[record.file_index] : "?";
  where.line = record.line;
  where.index = record.index;
  where.id = record.id;
  return where;
}

void count_into(PairDiffCategory& category, PairDiffExample example, size_t max_examples) {
  ++category.count;
  if (category.examples.size() < max_examples)
    category.examples.push_back(std::move(example));
}

void add_number(std::vector<NumberDelta>& out, const std::string& name, double base, double cand) {
  out.push_back(NumberDelta{name, base, cand});
}

void add_lengths(
    std::vector<NumberDelta>& out,
    const std::string& name,
    const LengthSummary& base,
    const LengthSummary& cand) {
  add_number(out, name + ".mean", base.mean, cand.mean);
  add_number(out, name + ".p50", static_cast<double>(base.p50), static_cast<double>(cand.p50));
  add_number(out, name + ".p90", static_cast<double>(base.p90), static_cast<double>(cand.p90));
  add_number(out, name + ".max", static_cast<double>(base.max), static_cast<double>(cand.max));
}

std::vector<NumberDelta> count_deltas(const ValidationReport& a, const ValidationReport& b) {
  std::vector<NumberDelta> out;
  auto u = [](uint64_t v) { return static_cast<double>(v); };
  add_number(out, "rows", u(a.rows), u(b.rows));
  add_number(out, "pairs_ok", u(a.pairs_ok), u(b.pairs_ok));
  add_number(out, "rejected", u(a.rejected), u(b.rejected));
  add_number(out, "excluded", u(a.excluded), u(b.excluded));
  add_number(out, "errors", u(a.errors), u(b.errors));
  add_number(out, "warnings", u(a.warnings), u(b.warnings));
  add_number(out, "split.train_pairs", u(a.train_pairs), u(b.train_pairs));
  add_number(out, "split.val_pairs", u(a.val_pairs), u(b.val_pairs));
  add_number(out, "split.train_prompts", u(a.train_prompts), u(b.train_prompts));
  add_number(out, "split.val_prompts", u(a.val_prompts), u(b.val_prompts));
  add_number(out, "unique_prompts", u(a.unique_prompts), u(b.unique_prompts));
  add_number(out, "prompt_duplication_rate", a.prompt_duplication_rate, b.prompt_duplication_rate);
  add_number(out, "repeat_judgments", u(a.repeat_judgments), u(b.repeat_judgments));
  add_number(out, "multi_turn_pairs", u(a.multi_turn_pairs), u(b.multi_turn_pairs));
  add_number(out, "chosen_longer", u(a.chosen_longer), u(b.chosen_longer));
  add_number(out, "chosen_longer_fraction", a.chosen_longer_fraction, b.chosen_longer_fraction);
  add_lengths(out, "prompt_chars", a.prompt_chars, b.prompt_chars);
  add_lengths(out, "chosen_chars", a.chosen_chars, b.chosen_chars);
  add_lengths(out, "rejected_chars", a.rejected_chars, b.rejected_chars);
  if (a.has_tokens && b.has_tokens) {
    add_lengths(out, "prompt_tokens", a.prompt_tokens, b.prompt_tokens);
    add_lengths(out, "chosen_tokens", a.chosen_tokens, b.chosen_tokens);
    add_lengths(out, "rejected_tokens", a.rejected_tokens, b.rejected_tokens);
  }
  return out;
}

std::vector<BalanceDelta> balance_deltas(const ValidationReport& a, const ValidationReport& b) {
  std::set<std::pair<std::string, std::string>> keys;
  for (const ValidationReport* r : {&a, &b}) {
    for (const auto& [key, values] : r->metadata_balance) {
      for (const auto& entry : values)
        keys.emplace(key, entry.first);
    }
  }
  auto lookup = [](const ValidationReport& r, const std::string& key, const std::string& value) {
    auto k = r.metadata_balance.find(key);
    if (k == r.metadata_balance.end())
      return BalanceCount{};
    auto v = k->second.find(value);
    return v == k->second.end() ? BalanceCount{} : v->second;
  };
  auto fraction = [](const BalanceCount& c) {
    return c.pairs ? static_cast<double>(c.chosen_longer) / static_cast<double>(c.pairs) : 0.0;
  };
  std::vector<BalanceDelta> out;
  for (const auto& [key, value] : keys) {
    BalanceCount x = lookup(a, key, value), y = lookup(b, key, value);
    out.push_back(BalanceDelta{key, value, x.pairs, y.pairs, fraction(x), fraction(y)});
  }
  return out;
}

void judge(DatasetDiff& diff) {
  const DataRegressionThresholds& t = diff.thresholds;
  auto rate = [](uint64_t count, uint64_t rows) {
    return rows ? static_cast<double>(count) / static_cast<double>(rows) : 0.0;
  };
  for (const IssueDelta& d : diff.issues) {
    bool is_error = issue_severity(d.code) == Severity::error;
    if (!is_error && !t.include_warnings)
      continue;
    uint64_t allowed = is_error ? t.allowed_error_increase : t.allowed_warning_increase;
    if (d.candidate <= d.baseline + allowed)
      continue;
    double base_rate = rate(d.baseline, diff.baseline.rows);
    double cand_rate = rate(d.candidate, diff.candidate.rows);
    if (t.compare_rates && cand_rate <= base_rate + t.allowed_error_rate_increase)
      continue;
    diff.reasons.push_back(format(
        "%s %s count rose from %llu to %llu (%.2f%% -> %.2f%% of rows; allowed rise %llu)",
        is_error ? "error" : "warning",
        issue_name(d.code),
        static_cast<unsigned long long>(d.baseline),
        static_cast<unsigned long long>(d.candidate),
        100.0 * base_rate,
        100.0 * cand_rate,
        static_cast<unsigned long long>(allowed)));
  }
  uint64_t matched = diff.pairs.matched_by_id + diff.pairs.matched_by_prompt;
  if (t.max_label_flip_fraction >= 0 && matched > 0) {
    double flips = rate(diff.pairs.label_flips.count, matched);
    if (flips > t.max_label_flip_fraction) {
      diff.reasons.push_back(format(
          "%llu of %llu matched pairs have chosen and rejected swapped (%.2f%%, allowed %.2f%%)",
          static_cast<unsigned long long>(diff.pairs.label_flips.count),
          static_cast<unsigned long long>(matched),
          100.0 * flips,
          100.0 * t.max_label_flip_fraction));
    }
  }
  diff.data_regression = !diff.reasons.empty();
}

json location_json(const PairLocation& where) {
  json j;
  j["file"] = where.file;
  j["line"] = where.line;
  if (where.index >= 0)
    j["index"] = where.index;
  if (!where.id.empty())
    j["id"] = where.id;
  return j;
}

json category_json(const PairDiffCategory& category) {
  json examples = json::array();
  for (const PairDiffExample& e : category.examples) {
    json j;
    if (e.has_baseline)
      j["baseline"] = location_json(e.baseline);
    if (e.has_candidate)
      j["candidate"] = location_json(e.candidate);
    if (!e.matched_by.empty())
      j["matched_by"] = e.matched_by;
    examples.push_back(j);
  }
  return json{{"count", category.count}, {"examples", examples}};
}

}  // namespace

DatasetDiff diff_datasets(
    const std::vector<std::string>& baseline_files,
    const std::vector<std::string>& candidate_files,
    const DatasetDiffOptions& options) {
  DatasetDiff diff;
  diff.baseline_files = baseline_files;
  diff.candidate_files = candidate_files;
  diff.thresholds = options.thresholds;
  // One reference date for both versions, so that their ages compare.
  ValidateOptions validate = options.validate;
  if (!validate.provenance.as_of)
    validate.provenance.as_of = now_epoch_seconds();
  std::vector<PairRecord> base = read_pairs(baseline_files, validate, &diff.baseline);
  std::vector<PairRecord> cand = read_pairs(candidate_files, validate, &diff.candidate);
  AgeShift& age = diff.age_shift;
  age.baseline_dated = diff.baseline.age.count;
  age.candidate_dated = diff.candidate.age.count;
  age.present = age.baseline_dated > 0 && age.candidate_dated > 0;
  age.baseline_median_days = diff.baseline.age.median_days;
  age.candidate_median_days = diff.candidate.age.median_days;
  match_pairs(base, cand);

  PairDiff& pairs = diff.pairs;
  pairs.baseline_pairs = base.size();
  pairs.candidate_pairs = cand.size();
  size_t max_examples = options.max_examples;
  for (const PairRecord& c : cand) {
    PairDiffExample example;
    example.has_candidate = true;
    example.candidate = location_of(c, candidate_files);
    if (c.match < 0) {
      count_into(pairs.added, std::move(example), max_examples);
      continue;
    }
    (c.by_id ? pairs.matched_by_id : pairs.matched_by_prompt) += 1;
    example.has_baseline = true;
    example.baseline = location_of(base[static_cast<size_t>(c.match)], baseline_files);
    example.matched_by = c.by_id ? "id" : "prompt";
    switch (c.outcome) {
      case Outcome::unchanged:
        ++pairs.unchanged.count;  // no examples: nothing to look at
        break;
      case Outcome::label_flip:
        count_into(pairs.label_flips, std::move(example), max_examples);
        break;
      default:
        count_into(pairs.changed, std::move(example), max_examples);
        break;
    }
  }
  for (const PairRecord& b : base) {
    if (b.match >= 0)
      continue;
    PairDiffExample example;
    example.has_baseline = true;
    example.baseline = location_of(b, baseline_files);
    count_into(pairs.removed, std::move(example), max_examples);
  }

  diff.counts = count_deltas(diff.baseline, diff.candidate);
  for (int i = 0; i < kIssueCodeCount; ++i) {
    IssueCode code = static_cast<IssueCode>(i);
    diff.issues.push_back(IssueDelta{code, diff.baseline.count(code), diff.candidate.count(code)});
  }
  diff.balance = balance_deltas(diff.baseline, diff.candidate);
  judge(diff);
  return diff;
}

std::string dataset_diff_to_json(const DatasetDiff& diff, bool pretty) {
  json root;
  root["kind"] = "dataset_diff";
  root["baseline_files"] = diff.baseline_files;
  root["candidate_files"] = diff.candidate_files;
  const PairDiff& p = diff.pairs;
  root["pairs"] = json{
      {"baseline_pairs", p.baseline_pairs},
      {"candidate_pairs", p.candidate_pairs},
      {"matched_by_id", p.matched_by_id},
      {"matched_by_prompt", p.matched_by_prompt},
      {"added", category_json(p.added)},
      {"removed", category_json(p.removed)},
      {"changed", category_json(p.changed)},
      {"unchanged", category_json(p.unchanged)},
      {"label_flips", category_json(p.label_flips)}};

  json counts = json::object();
  for (const NumberDelta& d : diff.counts) {
    counts[d.name] =
        json{{"baseline", d.baseline}, {"candidate", d.candidate}, {"delta", d.delta()}};
  }
  json issues = json::array();
  for (const IssueDelta& d : diff.issues) {
    issues.push_back(json{
        {"code", issue_name(d.code)},
        {"severity", severity_name(issue_severity(d.code))},
        {"baseline", d.baseline},
        {"candidate", d.candidate},
        {"delta", static_cast<int64_t>(d.candidate) - static_cast<int64_t>(d.baseline)}});
  }
  json balance = json::object();
  for (const BalanceDelta& d : diff.balance) {
    balance[d.key][d.value] = json{
        {"baseline_pairs", d.baseline_pairs},
        {"candidate_pairs", d.candidate_pairs},
        {"delta_pairs",
         static_cast<int64_t>(d.candidate_pairs) - static_cast<int64_t>(d.baseline_pairs)},
        {"baseline_chosen_longer_fraction", d.baseline_chosen_longer},
        {"candidate_chosen_longer_fraction", d.candidate_chosen_longer}};
  }
  const AgeShift& age = diff.age_shift;
  root["age_shift"] = json{
      {"present", age.present},
      {"baseline_dated_pairs", age.baseline_dated},
      {"candidate_dated_pairs", age.candidate_dated},
      {"baseline_median_age_days", age.present ? json(age.baseline_median_days) : json(nullptr)},
      {"candidate_median_age_days", age.present ? json(age.candidate_median_days) : json(nullptr)},
      {"shift_days", age.present ? json(age.shift_days()) : json(nullptr)}};
  root["validation"] = json{
      {"baseline", json::parse(report_to_json(diff.baseline, false))},
      {"candidate", json::parse(report_to_json(diff.candidate, false))},
      {"deltas", json{{"counts", counts}, {"issues", issues}, {"metadata_balance", balance}}}};

  const DataRegressionThresholds& t = diff.thresholds;
  root["thresholds"] = json{
      {"allowed_error_increase", t.allowed_error_increase},
      {"compare_rates", t.compare_rates},
      {"allowed_error_rate_increase", t.allowed_error_rate_increase},
      {"include_warnings", t.include_warnings},
      {"allowed_warning_increase", t.allowed_warning_increase},
      {"max_label_flip_fraction", t.max_label_flip_fraction}};
  root["data_regression"] = diff.data_regression;
  root["reasons"] = diff.reasons;
  return pretty ? root.dump(2) + "\n" : root.dump() + "\n";
}

std::string dataset_diff_summary(const DatasetDiff& diff) {
  const PairDiff& p = diff.pairs;
  auto u = [](uint64_t v) { return static_cast<unsigned long long>(v); };
  std::string out = format(
      "pairs: %llu baseline, %llu candidate (%llu matched by id, %llu by prompt)\n",
      u(p.baseline_pairs),
      u(p.candidate_pairs),
      u(p.matched_by_id),
      u(p.matched_by_prompt));
  out += format(
      "  added %llu, removed %llu, changed %llu, unchanged %llu, label flips %llu\n",
      u(p.added.count),
      u(p.removed.count),
      u(p.changed.count),
      u(p.unchanged.count),
      u(p.label_flips.count));
  out += format(
      "validation: errors %llu -> %llu, warnings %llu -> %llu\n",
      u(diff.baseline.errors),
      u(diff.candidate.errors),
      u(diff.baseline.warnings),
      u(diff.candidate.warnings));
  for (const IssueDelta& d : diff.issues) {
    if (d.baseline == d.candidate)
      continue;
    out += format("  %-32s %llu -> %llu\n", issue_name(d.code), u(d.baseline), u(d.candidate));
  }
  if (diff.age_shift.present) {
    out += format(
        "median age: %.0f -> %.0f days (%+.0f)\n",
        diff.age_shift.baseline_median_days,
        diff.age_shift.candidate_median_days,
        diff.age_shift.shift_days());
  }
  out += diff.data_regression ? "data regression:\n" : "no data regression\n";
  for (const std::string& reason : diff.reasons)
    out += "  " + reason + "\n";
  return out;
}

}  // namespace dpo
