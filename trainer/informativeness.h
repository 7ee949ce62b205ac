// Informativeness of preference pairs, from the reference model's margin: the log-prob of the
// chosen response minus the rejected one, per token (chosen/tokens - rejected/tokens) and summed.
// A pair the reference already ranks far apart ("easy": per-token margin above easy_margin)
// teaches DPO little; one it cannot tell apart ("ambiguous": per-token margin within
// +-ambiguous_margin) gives noisy gradients. Overall and per slice; torch-free, the JSON library
// stays in informativeness.cpp.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace dpo {

struct InformativenessThresholds {
  double easy_margin = 0.5;        // nats per token
  double ambiguous_margin = 0.02;  // nats per token, either side of 0
};

// The reference margins of one pair.
struct ReferenceMargin {
  double summed = 0;     // log p(chosen) - log p(rejected), over the completions
  double per_token = 0;  // mean log-prob per token of chosen - of rejected
};

// chosen_logps - rejected_logps, and the per-token difference (token counts below 1 count as 1).
ReferenceMargin reference_margin(
    double chosen_logps, double rejected_logps, int64_t chosen_tokens, int64_t rejected_tokens);

struct MarginSummary {
  std::string value;  // the slice value; "" overall
  int64_t pairs = 0;
  int64_t ranked_correctly = 0;  // per-token margin > 0
  int64_t easy = 0, ambiguous = 0;
  double ranked_share = 0, easy_share = 0, ambiguous_share = 0;
  // The per-token margin's distribution: mean and quantiles (nearest rank).
  double mean = 0, min = 0, p10 = 0, p50 = 0, p90 = 0, max = 0;
  double mean_summed = 0;  // the summed margin's mean
  // Pairs per band of the per-token margin m, with e = easy_margin and a = ambiguous_margin:
  // m <= -e (the reference clearly prefers the rejected response), -e < m < -a, |m| <= a
  // (ambiguous), a < m <= e, m > e (easy).
  std::array<int64_t, 5> bands{};
};

MarginSummary summarize_margins(
    const std::vector<ReferenceMargin>& margins, const InformativenessThresholds& thresholds);

struct Informativeness {
  MarginSummary overall;
  // Per slice key: one summary per value (byte order).
  std::vector<std::pair<std::string, std::vector<MarginSummary>>> slices;
};

// labels[k][i]: the value of slice_by[k] for pair i (as slice_metrics takes them).
Informativeness informativeness(
    const std::vector<ReferenceMargin>& margins,
    const std::vector<std::string>& slice_by,
    const std::vector<std::vector<std::string>>& labels,
    const InformativenessThresholds& thresholds);

// Warnings (information, not failures) when at least max_easy_share of the pairs are easy or
// at least max_ambiguous_share ambiguous; empty for a mixed set or no pairs.
std::vector<std::string> informativeness_warnings(
    const MarginSummary& summary, double max_easy_share, double max_ambiguous_share);

// {"pairs", "ranked_correctly_share", "easy_share", "ambiguous_share", "easy_margin",
//  "ambiguous_margin", "margin_per_token": {mean, min, p10, p50, p90, max}, "mean_margin_summed",
//  "slices": {"<key>": {"<value>": {...the same without slices...}}}}
std::string informativeness_to_json(
    const Informativeness& info, const InformativenessThresholds& thresholds);

}  // namespace dpo
