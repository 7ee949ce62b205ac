#include "data/provenance.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <map>
#include <unordered_map>

#include "core/error.h"
#include "core/format.h"
#include "data/agreement.h"
#include "data/row_fields.h"
#include "data/timestamp.h"

namespace dpo {

namespace {

constexpr uint32_t kNoReviewer = 0xFFFFFFFFu;
constexpr size_t kMaxSliceValues = 200;  // per key; the rest are counted under "(other)"
// A slice value's position, kept per comparison in a byte: at most kMaxSliceValues + "(other)".
static_assert(kMaxSliceValues + 1 <= 256, "slice value positions are stored in uint8_t");
constexpr double kSecondsPerDay = 86400.0;

// Labels of a judgment (the categories of kappa).
enum Label : uint8_t { kFirst = 0, kSecond = 1, kTie = 2, kBothBad = 3, kLabelCount = 4 };

// A judgment after the first of its comparison.
struct Vote {
  RowLocation where;
  uint32_t reviewer;
  uint8_t label;
  std::string id;  // kept for judgments with a reviewer only (the disagreement list)
};

const char* label_name(uint8_t label) {
  static const char* const kNames[] = {"first", "second", "tie", "both_bad"};
  return kNames[label];
}

// One comparison and its first judgment. Most comparisons are judged once, so this is all they
// keep: 32 bytes, unpacked from RowLocation (whose padding would make it 40), so that with its
// 16-byte key and the link a hash-map node is 56 bytes, a 64-byte heap block, as the validator's
// pair table took before provenance. The rest lives apart, by `number` (order of first sight):
// the first judgment's id (State::first_ids, only when it had a reviewer and an id), its slice
// values (State::first_slices) and later judgments (State::later, only when judged again).
struct Comparison {
  uint64_t line;
  int64_t index;
  uint32_t file_index;
  uint32_t reviewer;
  uint32_t number;
  uint8_t label;
  bool judged_again;
};
static_assert(sizeof(Comparison) == 32, "see the comment above Comparison");

// The judgments of a comparison judged more than once, after the first.
struct LaterVotes {
  std::vector<Vote> votes;
  bool disagreement_reported = false;
};

// The first judgments' ids by comparison number, packed end to end: a std::string per id takes
// 32 bytes (80 past 15 characters, a UUID say), this its characters and 8. Chunked (std::deque),
// so growing never copies what is stored. Numbers come in increasing order.
class FirstIds {
 public:
  void set(uint32_t number, std::string_view id) {
    ends_.resize(number, text_.size());  // the comparisons in between keep no id
    text_.insert(text_.end(), id.begin(), id.end());
    ends_.push_back(text_.size());
  }

  std::string get(uint32_t number) const {
    if (number >= ends_.size())
      return std::string();
    const uint64_t begin = number == 0 ? 0 : ends_[number - 1];
    return std::string(text_.begin() + begin, text_.begin() + ends_[number]);
  }

 private:
  std::deque<char> text_;
  std::deque<uint64_t> ends_;
};

// Hash128Hasher without noexcept makes std::unordered_map keep each key's hash in its node, 8
// more bytes per comparison; recomputing it is two multiplications.
struct ComparisonHasher {
  size_t operator()(const Hash128& h) const noexcept {
    return Hash128Hasher{}(h);
  }
};

struct SliceAccumulator {
  SliceStats stats;
  std::vector<double> ages;
};

struct SliceKey {
  std::string path;
  std::map<std::string, uint32_t> index;  // value -> position in `values`
  std::vector<std::pair<std::string, SliceAccumulator>> values;

  uint32_t value_index(std::string_view value) {
    auto it = index.find(std::string(value));
    if (it != index.end())
      return it->second;
    std::string name(value);
    if (values.size() >= kMaxSliceValues) {
      name = "(other)";
      it = index.find(name);
      if (it != index.end())
        return it->second;
    }
    uint32_t position = static_cast<uint32_t>(values.size());
    index.emplace(name, position);
    values.emplace_back(name, SliceAccumulator{});
    return position;
  }
};

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size())
    return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] + 32) : a[i];
    char y = b[i] >= 'A' && b[i] <= 'Z' ? static_cast<char>(b[i] + 32) : b[i];
    if (x != y)
      return false;
  }
  return true;
}

bool hash_less(const Hash128& a, const Hash128& b) {
  return a.high != b.high ? a.high < b.high : a.low < b.low;
}

// Items for kappa: per comparison, the first judgment of every named reviewer; comparisons with
// at least two reviewers.
using Item = std::vector<std::pair<uint32_t, uint8_t>>;  // (reviewer, label)

Item item_of(const std::vector<Vote>& votes) {
  Item item;
  for (const Vote& j : votes) {
    if (j.reviewer == kNoReviewer)
      continue;
    bool seen = false;
    for (const auto& [reviewer, label] : item)
      seen = seen || reviewer == j.reviewer;
    if (!seen)
      item.emplace_back(j.reviewer, j.label);
  }
  return item;
}

AgreementSummary agreement_of(const std::vector<const Item*>& items) {
  AgreementSummary summary;
  if (items.empty())
    return summary;
  std::vector<uint32_t> reviewers;
  bool all_pairs = true;
  for (const Item* item : items) {
    all_pairs = all_pairs && item->size() == 2;
    summary.judgments += item->size();
    for (const auto& judgment : *item) {
      if (std::find(reviewers.begin(), reviewers.end(), judgment.first) == reviewers.end())
        reviewers.push_back(judgment.first);
    }
    bool same = std::all_of(item->begin(), item->end(), [&](const auto& j) {
      return j.second == item->front().second;
    });
    summary.disagreeing_items += same ? 0 : 1;
  }
  KappaResult kappa;
  if (all_pairs && reviewers.size() == 2) {
    // Cohen: rows are the reviewer with the smaller index, columns the other.
    uint32_t row_reviewer = std::min(reviewers[0], reviewers[1]);
    std::vector<std::vector<uint64_t>> table(kLabelCount, std::vector<uint64_t>(kLabelCount, 0));
    for (const Item* item : items) {
      const auto& a = (*item)[0];
      const auto& b = (*item)[1];
      if (a.first == row_reviewer) {
        ++table[a.second][b.second];
      } else {
        ++table[b.second][a.second];
      }
    }
    kappa = cohen_kappa(table);
    summary.method = "cohen";
  } else {
    std::vector<std::vector<uint64_t>> counts;
    for (const Item* item : items) {
      std::vector<uint64_t> row(kLabelCount, 0);
      for (const auto& [reviewer, label] : *item)
        ++row[label];
      counts.push_back(row);
    }
    kappa = fleiss_kappa(counts);
    summary.method = "fleiss";
  }
  summary.items = kappa.items;
  summary.observed = kappa.observed;
  summary.expected = kappa.expected;
  summary.kappa = kappa.kappa;
  summary.defined = kappa.defined;
  return summary;
}

}  // namespace

struct ProvenanceTracker::State {
  ProvenanceOptions options;
  IssueRecorder record;
  LocationNamer name;
  std::vector<std::string> files;  // by RowLocation::file_index, for the "source_file" key
  std::vector<SliceKey> slice_keys;
  std::unordered_map<Hash128, Comparison, ComparisonHasher> comparisons;
  std::unordered_map<uint32_t, LaterVotes> later;  // by Comparison::number
  FirstIds first_ids;                              // of first judgments with a reviewer and an id
  std::vector<uint8_t> first_slices;  // by number x slice key: the first judgment's value
  std::vector<Vote> votes_scratch;
  std::map<std::string, uint32_t> reviewer_index;
  std::vector<ReviewerStats> reviewers;  // by index
  bool has_reviewers = false;
  bool has_timestamps = false;
  uint64_t ai_judgments = 0, ai_excluded = 0;
  uint64_t timestamps_missing = 0, timestamps_invalid = 0;
  std::vector<double> ages;
  std::vector<uint32_t> slice_scratch;

  uint32_t reviewer_of(const PreferenceRow& row) {
    std::optional<std::string_view> id = row_field(row, options.reviewer_field);
    if (!id || id->empty())
      return kNoReviewer;
    has_reviewers = true;
    auto it = reviewer_index.find(std::string(*id));
    if (it != reviewer_index.end())
      return it->second;
    uint32_t index = static_cast<uint32_t>(reviewers.size());
    reviewer_index.emplace(std::string(*id), index);
    reviewers.push_back(ReviewerStats{});
    reviewers.back().reviewer = std::string(*id);
    return index;
  }

  std::string reviewer_name(uint32_t index) const {
    return index == kNoReviewer ? "(no reviewer)" : reviewers[index].reviewer;
  }

  // The judgments of a comparison in reading order, each with its id when it had a reviewer.
  void gather(const Comparison& c, std::vector<Vote>& out) const {
    out.clear();
    out.push_back(Vote{
        RowLocation{c.file_index, c.line, c.index}, c.reviewer, c.label, first_ids.get(c.number)});
    if (c.judged_again) {
      const std::vector<Vote>& votes = later.at(c.number).votes;
      out.insert(out.end(), votes.begin(), votes.end());
    }
  }

  // The pair checks against the earlier judgments of the same comparison (`earlier_votes`);
  // `later` holds the comparison's judgments after its first.
  void check_pair(
      const std::vector<Vote>& earlier_votes,
      LaterVotes& later,
      const Vote& judgment,
      const RowLocation& where,
      const std::string& id) {
    const Vote* duplicate = nullptr;
    const Vote* conflict = nullptr;
    const Vote* disagreement = nullptr;
    for (const Vote& earlier : earlier_votes) {
      if (earlier.label > kSecond)
        continue;  // ties and both-bad rows are not pairs
      bool same_reviewer = earlier.reviewer == judgment.reviewer;
      bool both_named = earlier.reviewer != kNoReviewer && judgment.reviewer != kNoReviewer;
      if (earlier.label == judgment.label) {
        if (same_reviewer && duplicate == nullptr)
          duplicate = &earlier;
      } else if (!both_named || same_reviewer) {
        if (conflict == nullptr)
          conflict = &earlier;
      } else if (disagreement == nullptr) {
        disagreement = &earlier;
      }
    }
    if (conflict != nullptr) {
      record(
          IssueCode::conflicting_pair,
          where,
          id,
          "the same pair with chosen and rejected swapped at " + name(conflict->where) +
              (judgment.reviewer != kNoReviewer && conflict->reviewer == judgment.reviewer
                   ? " (both by reviewer " + reviewer_name(judgment.reviewer) + ")"
                   : ""));
    }
    if (duplicate != nullptr) {
      record(IssueCode::duplicate_pair, where, id, "the same pair as " + name(duplicate->where));
    }
    if (disagreement != nullptr && !later.disagreement_reported) {
      later.disagreement_reported = true;
      record(
          IssueCode::reviewer_disagreement,
          where,
          id,
          "reviewer " + reviewer_name(judgment.reviewer) + " chose the response that reviewer " +
              reviewer_name(disagreement->reviewer) + " rejected at " + name(disagreement->where));
    }
  }
};

ProvenanceTracker::ProvenanceTracker(
    const ProvenanceOptions& options,
    IssueRecorder record,
    LocationNamer name,
    std::vector<std::string> files)
    : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.options = options;
  s.files = std::move(files);
  s.record = std::move(record);
  s.name = std::move(name);
  for (const std::string& key : options.slice_by) {
    check_field_path(key, "--slice-by");
    s.slice_keys.push_back(SliceKey{key, {}, {}});
  }
  check_field_path(options.reviewer_field, "--reviewer-field");
  check_field_path(options.judge_field, "--judge-field");
  check_field_path(options.timestamp_field, "--timestamp-field");
  if (!s.options.as_of)
    s.options.as_of = now_epoch_seconds();
  if (!(options.max_age_days > 0))
    throw UsageError("--max-age-days must be positive");
  if (!(options.agreement_warning <= options.agreement_strong))
    throw UsageError("--agreement-thresholds takes STRONG,WARNING with WARNING <= STRONG");
}

ProvenanceTracker::~ProvenanceTracker() = default;

bool ProvenanceTracker::is_ai(const PreferenceRow& row) const {
  std::optional<std::string_view> judge = row_field(row, state_->options.judge_field);
  return judge && equals_ignoring_case(*judge, "ai");
}

void ProvenanceTracker::add_excluded_ai() {
  ++state_->ai_judgments;
  ++state_->ai_excluded;
}

void ProvenanceTracker::add(
    const PreferenceRow& row,
    const PairHashes& hashes,
    const RowLocation& where,
    size_t chosen_chars,
    size_t rejected_chars) {
  State& s = *state_;
  const bool ai = is_ai(row);
  s.ai_judgments += ai ? 1 : 0;
  const bool swapped = hash_less(hashes.rejected, hashes.chosen);
  const Hash128 key = swapped ? pair_key(hashes.prompt, hashes.rejected, hashes.chosen)
                              : pair_key(hashes.prompt, hashes.chosen, hashes.rejected);
  uint8_t label = row.judgment == Judgment::tie        ? kTie
                  : row.judgment == Judgment::both_bad ? kBothBad
                  : swapped                            ? kSecond
                                                       : kFirst;
  const bool is_pair = label <= kSecond;
  const bool chosen_longer = is_pair && chosen_chars > rejected_chars;
  const bool equal_length = is_pair && chosen_chars == rejected_chars;

  // Slices.
  s.slice_scratch.clear();
  for (SliceKey& slice : s.slice_keys) {
    std::optional<std::string_view> value;
    if (slice.path == "source_file") {
      if (where.file_index < s.files.size())
        value = s.files[where.file_index];
    } else {
      value = row_field(row, slice.path);
    }
    // The same name for "no value" as the held-out slices (trainer/slice_metrics.h).
    s.slice_scratch.push_back(slice.value_index(value ? *value : "(none)"));
  }

  // Age (pairs only: the statistics describe what is trained on).
  std::optional<double> age_days;
  if (is_pair) {
    std::optional<std::string_view> stamp = row_field(row, s.options.timestamp_field);
    if (!stamp) {
      ++s.timestamps_missing;
    } else {
      s.has_timestamps = true;
      std::optional<double> seconds = parse_timestamp(*stamp);
      if (!seconds) {
        ++s.timestamps_invalid;
        s.record(
            IssueCode::invalid_timestamp,
            where,
            row.id,
            s.options.timestamp_field + " is '" + std::string(stamp->substr(0, 60)) +
                "', neither ISO 8601 nor epoch seconds");
      } else if (*seconds > *s.options.as_of + kSecondsPerDay) {
        ++s.timestamps_invalid;
        s.record(
            IssueCode::invalid_timestamp,
            where,
            row.id,
            s.options.timestamp_field + " '" + std::string(*stamp) +
                "' is after the reference date (--as-of)");
      } else {
        age_days = (*s.options.as_of - *seconds) / kSecondsPerDay;
        s.ages.push_back(*age_days);
      }
    }
  }

  for (size_t k = 0; k < s.slice_keys.size(); ++k) {
    SliceAccumulator& acc = s.slice_keys[k].values[s.slice_scratch[k]].second;
    SliceStats& stats = acc.stats;
    ++stats.judgments;
    stats.pairs += is_pair ? 1 : 0;
    stats.chosen_longer += chosen_longer ? 1 : 0;
    stats.equal_length += equal_length ? 1 : 0;
    stats.ties += label == kTie ? 1 : 0;
    stats.both_bad += label == kBothBad ? 1 : 0;
    stats.ai_judgments += ai ? 1 : 0;
    if (age_days)
      acc.ages.push_back(*age_days);
  }

  // Reviewer.
  const uint32_t reviewer = s.reviewer_of(row);
  if (reviewer != kNoReviewer) {
    ReviewerStats& r = s.reviewers[reviewer];
    ++r.judgments;
    r.pairs += is_pair ? 1 : 0;
    r.chosen_longer += chosen_longer ? 1 : 0;
    r.equal_length += equal_length ? 1 : 0;
    r.ties += label == kTie ? 1 : 0;
    r.both_bad += label == kBothBad ? 1 : 0;
    r.ai_judgments += ai ? 1 : 0;
  }

  // Earlier judgments of the same comparison.
  auto [it, first_judgment] = s.comparisons.try_emplace(key);
  Comparison& comparison = it->second;
  if (first_judgment) {
    if (s.comparisons.size() > std::numeric_limits<uint32_t>::max())
      throw DataError("more than 2^32 distinct comparisons: too many for one validate run");
    comparison = Comparison{
        where.line,
        where.index,
        where.file_index,
        reviewer,
        static_cast<uint32_t>(s.comparisons.size() - 1),
        label,
        false};
    for (uint32_t value : s.slice_scratch)
      s.first_slices.push_back(static_cast<uint8_t>(value));
    if (reviewer != kNoReviewer && !row.id.empty())
      s.first_ids.set(comparison.number, row.id);
    return;
  }
  Vote judgment{where, reviewer, label, reviewer == kNoReviewer ? std::string() : row.id};
  LaterVotes& later = s.later[comparison.number];
  if (is_pair) {
    s.gather(comparison, s.votes_scratch);
    s.check_pair(s.votes_scratch, later, judgment, where, row.id);
  }
  comparison.judged_again = true;
  later.votes.push_back(std::move(judgment));
}

void ProvenanceTracker::finish(ValidationReport& report) {
  State& s = *state_;
  const ProvenanceOptions& o = s.options;
  report.provenance = o;
  report.has_reviewers = s.has_reviewers;
  report.ai_judgments = s.ai_judgments;
  report.ai_excluded = s.ai_excluded;
  report.has_timestamps = s.has_timestamps;
  report.timestamps_missing = s.has_timestamps ? s.timestamps_missing : 0;
  report.timestamps_invalid = s.timestamps_invalid;
  report.age = summarize_ages(std::move(s.ages), o.max_age_days);

  // Repeat judgments: pairs judged again by a reviewer who had not judged that comparison.
  // Agreement items: comparisons with at least two named reviewers. Only comparisons judged
  // more than once can count for either.
  std::vector<Item> items;
  std::vector<const Comparison*> item_comparisons;
  std::vector<Vote>& votes = s.votes_scratch;
  for (const auto& [key, comparison] : s.comparisons) {
    if (!comparison.judged_again)
      continue;
    s.gather(comparison, votes);
    std::vector<uint32_t> seen;
    for (const Vote& vote : votes) {
      if (vote.label > kSecond)
        continue;
      bool new_reviewer = vote.reviewer != kNoReviewer &&
                          std::find(seen.begin(), seen.end(), vote.reviewer) == seen.end();
      if (!seen.empty() && new_reviewer)
        ++report.repeat_judgments;
      seen.push_back(vote.reviewer);
    }
    Item item = item_of(votes);
    if (item.size() < 2)
      continue;
    items.push_back(std::move(item));
    item_comparisons.push_back(&comparison);
  }

  // Agreement: overall and per slice value.
  std::vector<const Item*> all;
  for (const Item& item : items)
    all.push_back(&item);
  report.agreement = agreement_of(all);
  // The disagreeing comparisons with all their judgments, in reading order.
  std::vector<const Comparison*> disagreeing;
  for (size_t i = 0; i < items.size(); ++i) {
    const Item& item = items[i];
    bool same = std::all_of(
        item.begin(), item.end(), [&](const auto& j) { return j.second == item.front().second; });
    if (!same)
      disagreeing.push_back(item_comparisons[i]);
  }
  auto first_seen = [](const Comparison* c) { return std::make_pair(c->file_index, c->line); };
  std::sort(disagreeing.begin(), disagreeing.end(), [&](const auto* a, const auto* b) {
    return first_seen(a) < first_seen(b);
  });
  report.disagreements.clear();
  for (const Comparison* c : disagreeing) {
    if (report.disagreements.size() == kMaxListedDisagreements)
      break;
    DisagreementItem listed;
    s.gather(*c, votes);
    for (const Vote& v : votes) {
      listed.judgments.push_back(JudgmentRef{
          v.reviewer == kNoReviewer ? "" : s.reviewers[v.reviewer].reviewer,
          label_name(v.label),
          v.where.file_index,
          v.where.line,
          v.where.index,
          v.id});
    }
    report.disagreements.push_back(std::move(listed));
  }
  auto warn_low = [&](const AgreementSummary& a, const std::string& where) {
    if (!a.defined || a.items < o.agreement_min_items || !(a.kappa < o.agreement_warning))
      return;
    s.record(
        IssueCode::low_agreement,
        RowLocation{0, 0, -1},
        "",
        format(
            "%s: %s kappa %.2f over %llu comparisons (%llu disagree), below %.2f",
            where.c_str(),
            a.method == "cohen" ? "Cohen's" : "Fleiss'",
            a.kappa,
            static_cast<unsigned long long>(a.items),
            static_cast<unsigned long long>(a.disagreeing_items),
            o.agreement_warning));
  };
  warn_low(report.agreement, "all reviewers");

  // Slices.
  report.slices.clear();
  for (size_t k = 0; k < s.slice_keys.size(); ++k) {
    SliceKey& key = s.slice_keys[k];
    SliceTable table;
    table.key = key.path;
    std::vector<std::vector<const Item*>> slice_items(key.values.size());
    for (size_t i = 0; i < items.size(); ++i) {
      const size_t first = item_comparisons[i]->number * s.slice_keys.size();
      slice_items[s.first_slices[first + k]].push_back(&items[i]);
    }
    for (size_t v = 0; v < key.values.size(); ++v) {
      auto& [value, acc] = key.values[v];
      acc.stats.age = summarize_ages(std::move(acc.ages), o.max_age_days);
      acc.stats.agreement = agreement_of(slice_items[v]);
      warn_low(acc.stats.agreement, key.path + "=" + value);
      table.values.emplace_back(value, acc.stats);
    }
    std::sort(table.values.begin(), table.values.end(), [](const auto& a, const auto& b) {
      return a.first < b.first;
    });
    report.slices.push_back(std::move(table));
  }

  // Reviewers: agreement with the majority of the others on shared items.
  for (const Item& item : items) {
    for (const auto& [reviewer, label] : item) {
      uint64_t votes[kLabelCount] = {0, 0, 0, 0};
      for (const auto& [other, other_label] : item) {
        if (other != reviewer)
          ++votes[other_label];
      }
      uint64_t best = *std::max_element(votes, votes + kLabelCount);
      int winners = 0;
      uint8_t majority = 0;
      for (uint8_t l = 0; l < kLabelCount; ++l) {
        if (votes[l] == best) {
          ++winners;
          majority = l;
        }
      }
      if (winners != 1)
        continue;  // the others split evenly: no majority to agree with
      ++s.reviewers[reviewer].majority_compared;
      s.reviewers[reviewer].majority_agrees += label == majority ? 1 : 0;
    }
  }

  // Reviewers: length preference against the pooled other reviewers.
  uint64_t total_unequal = 0, total_longer = 0;
  for (const ReviewerStats& r : s.reviewers) {
    total_unequal += r.pairs - r.equal_length;
    total_longer += r.chosen_longer;
  }
  for (ReviewerStats& r : s.reviewers) {
    const uint64_t n1 = r.pairs - r.equal_length;
    const uint64_t n2 = total_unequal - n1;
    const uint64_t rest_longer = total_longer - r.chosen_longer;
    r.rest_chosen_longer = n2 > 0 ? static_cast<double>(rest_longer) / static_cast<double>(n2) : 0;
    if (n1 < o.length_preference_min_pairs || n2 == 0)
      continue;
    const double p1 = static_cast<double>(r.chosen_longer) / static_cast<double>(n1);
    const double p2 = r.rest_chosen_longer;
    const double pooled = static_cast<double>(total_longer) / static_cast<double>(total_unequal);
    const double se = std::sqrt(
        pooled * (1 - pooled) * (1.0 / static_cast<double>(n1) + 1.0 / static_cast<double>(n2)));
    const double z = se > 0 ? (p1 - p2) / se : 0;
    if (std::fabs(p1 - p2) >= o.length_preference_gap && std::fabs(z) >= 3.0) {
      r.length_preference = true;
      s.record(
          IssueCode::reviewer_length_preference,
          RowLocation{0, 0, -1},
          "",
          format(
              "reviewer %s chose the longer response in %.1f%% of %llu pairs, the other reviewers "
              "in %.1f%% (z = %.1f)",
              r.reviewer.c_str(),
              100.0 * p1,
              static_cast<unsigned long long>(n1),
              100.0 * p2,
              z));
    }
  }
  report.reviewers = s.reviewers;
  std::sort(report.reviewers.begin(), report.reviewers.end(), [](const auto& a, const auto& b) {
    return a.reviewer < b.reviewer;
  });

  // Staleness.
  if (report.age.older_than_max > 0) {
    s.record(
        IssueCode::stale_pairs,
        RowLocation{0, 0, -1},
        "",
        format(
            "%llu of %llu dated pairs (%.1f%%) are older than %.0f days (oldest %.0f days)",
            static_cast<unsigned long long>(report.age.older_than_max),
            static_cast<unsigned long long>(report.age.count),
            100.0 * static_cast<double>(report.age.older_than_max) /
                static_cast<double>(report.age.count),
            o.max_age_days,
            report.age.max_days));
  }
}

}  // namespace dpo
