#include "trainer/informativeness.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>

#include "core/format.h"

namespace dpo {
namespace {

using json = nlohmann::json;

// Nearest-rank quantile of sorted values: the ceil(q n)-th smallest (1-based), q in (0, 1].
double quantile(const std::vector<double>& sorted, double q) {
  const size_t n = sorted.size();
  size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(n)));
  rank = std::min(n, std::max<size_t>(1, rank));
  return sorted[rank - 1];
}

json summary_json(const MarginSummary& s) {
  return json{
      {"pairs", s.pairs},
      {"ranked_correctly", s.ranked_correctly},
      {"easy", s.easy},
      {"ambiguous", s.ambiguous},
      {"ranked_correctly_share", s.ranked_share},
      {"easy_share", s.easy_share},
      {"ambiguous_share", s.ambiguous_share},
      {"margin_per_token",
       {{"mean", s.mean},
        {"min", s.min},
        {"p10", s.p10},
        {"p50", s.p50},
        {"p90", s.p90},
        {"max", s.max}}},
      {"mean_margin_summed", s.mean_summed},
      {"bands",
       json::array(
           {{{"band", "prefers rejected clearly"}, {"pairs", s.bands[0]}},
            {{"band", "prefers rejected"}, {"pairs", s.bands[1]}},
            {{"band", "ambiguous"}, {"pairs", s.bands[2]}},
            {{"band", "prefers chosen"}, {"pairs", s.bands[3]}},
            {{"band", "easy"}, {"pairs", s.bands[4]}}})}};
}

}  // namespace

ReferenceMargin reference_margin(
    double chosen_logps, double rejected_logps, int64_t chosen_tokens, int64_t rejected_tokens) {
  const double c = static_cast<double>(std::max<int64_t>(1, chosen_tokens));
  const double r = static_cast<double>(std::max<int64_t>(1, rejected_tokens));
  return {chosen_logps - rejected_logps, chosen_logps / c - rejected_logps / r};
}

MarginSummary summarize_margins(
    const std::vector<ReferenceMargin>& margins, const InformativenessThresholds& thresholds) {
  MarginSummary s;
  s.pairs = static_cast<int64_t>(margins.size());
  if (margins.empty())
    return s;
  std::vector<double> per_token;
  double sum = 0, sum_summed = 0;
  for (const ReferenceMargin& m : margins) {
    per_token.push_back(m.per_token);
    sum += m.per_token;
    sum_summed += m.summed;
    s.ranked_correctly += m.per_token > 0 ? 1 : 0;
    s.easy += m.per_token > thresholds.easy_margin ? 1 : 0;
    s.ambiguous += std::abs(m.per_token) <= thresholds.ambiguous_margin ? 1 : 0;
    const double e = thresholds.easy_margin, a = thresholds.ambiguous_margin;
    const size_t band = m.per_token <= -e            ? 0
                        : m.per_token < -a           ? 1
                        : std::abs(m.per_token) <= a ? 2
                        : m.per_token <= e           ? 3
                                                     : 4;
    s.bands[band] += 1;
  }
  const double n = static_cast<double>(s.pairs);
  s.ranked_share = static_cast<double>(s.ranked_correctly) / n;
  s.easy_share = static_cast<double>(s.easy) / n;
  s.ambiguous_share = static_cast<double>(s.ambiguous) / n;
  s.mean = sum / n;
  s.mean_summed = sum_summed / n;
  std::sort(per_token.begin(), per_token.end());
  s.min = per_token.front();
  s.max = per_token.back();
  s.p10 = quantile(per_token, 0.10);
  s.p50 = quantile(per_token, 0.50);
  s.p90 = quantile(per_token, 0.90);
  return s;
}

Informativeness informativeness(
    const std::vector<ReferenceMargin>& margins,
    const std::vector<std::string>& slice_by,
    const std::vector<std::vector<std::string>>& labels,
    const InformativenessThresholds& thresholds) {
  Informativeness info;
  info.overall = summarize_margins(margins, thresholds);
  for (size_t k = 0; k < slice_by.size() && k < labels.size(); ++k) {
    std::map<std::string, std::vector<ReferenceMargin>> groups;
    for (size_t i = 0; i < margins.size() && i < labels[k].size(); ++i)
      groups[labels[k][i]].push_back(margins[i]);
    std::vector<MarginSummary> summaries;
    for (const auto& [value, group] : groups) {
      MarginSummary s = summarize_margins(group, thresholds);
      s.value = value;
      summaries.push_back(s);
    }
    info.slices.emplace_back(slice_by[k], std::move(summaries));
  }
  return info;
}

std::vector<std::string> informativeness_warnings(
    const MarginSummary& summary, double max_easy_share, double max_ambiguous_share) {
  std::vector<std::string> warnings;
  if (summary.pairs == 0)
    return warnings;
  if (summary.easy_share >= max_easy_share) {
    warnings.push_back(
        "easy_pairs: the reference already prefers the chosen response by a wide margin in " +
        format("%.1f%%", 100 * summary.easy_share) + " of " + std::to_string(summary.pairs) +
        " pairs: DPO learns little from them");
  }
  if (summary.ambiguous_share >= max_ambiguous_share) {
    warnings.push_back(
        "ambiguous_pairs: the reference cannot tell chosen from rejected (per-token margin near "
        "0) in " +
        format("%.1f%%", 100 * summary.ambiguous_share) + " of " + std::to_string(summary.pairs) +
        " pairs");
  }
  return warnings;
}

std::string informativeness_to_json(
    const Informativeness& info, const InformativenessThresholds& thresholds) {
  json out = summary_json(info.overall);
  out["easy_margin"] = thresholds.easy_margin;
  out["ambiguous_margin"] = thresholds.ambiguous_margin;
  json slices = json::object();
  for (const auto& [key, summaries] : info.slices) {
    json values = json::object();
    for (const MarginSummary& s : summaries)
      values[s.value] = summary_json(s);
    slices[key] = values;
  }
  out["slices"] = slices;
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace dpo
