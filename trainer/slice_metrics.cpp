#include "trainer/slice_metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace dpo {
namespace {

using json = nlohmann::json;

// A scalar as text (numbers as written, booleans true/false); objects, arrays and null are no
// value, as in `dpo validate` (data/row_fields.h).
std::string value_text(const json& value) {
  if (value.is_string())
    return value.get<std::string>();
  if (value.is_number() || value.is_boolean())
    return value.dump();
  return kNoSliceValue;
}

// Sums over the pairs of one slice, divided once at the end.
struct SliceSums {
  int64_t pairs = 0;
  double loss = 0, accuracy = 0, margin = 0, chosen = 0, rejected = 0;
};

}  // namespace

std::string slice_value(
    const std::string& key,
    const std::string& metadata_json,
    const std::string& fields_json,
    const std::string& source_file) {
  if (key == "source_file")
    return source_file.empty() ? kNoSliceValue : source_file;
  // "metadata.a.b" inside the metadata object, any other path inside the other fields.
  const std::string prefix = "metadata.";
  const bool in_metadata = key.compare(0, prefix.size(), prefix) == 0;
  const std::string& text = in_metadata ? metadata_json : fields_json;
  if (text.empty())
    return kNoSliceValue;
  json object = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!object.is_object())
    return kNoSliceValue;
  const std::string path = in_metadata ? key.substr(prefix.size()) : key;
  const json* node = &object;
  size_t begin = 0;
  while (true) {
    size_t dot = path.find('.', begin);
    std::string part =
        path.substr(begin, dot == std::string::npos ? std::string::npos : dot - begin);
    if (!node->is_object() || !node->contains(part))
      return kNoSliceValue;
    node = &(*node)[part];
    if (dot == std::string::npos)
      break;
    begin = dot + 1;
  }
  return value_text(*node);
}

std::vector<std::vector<std::string>> slice_labels(
    const std::vector<std::string>& slice_by,
    const PreparedSplit& split,
    const std::vector<std::string>& source_files) {
  std::vector<std::vector<std::string>> labels(slice_by.size());
  for (size_t k = 0; k < slice_by.size(); ++k) {
    labels[k].reserve(split.size());
    for (size_t i = 0; i < split.size(); ++i) {
      const int32_t file = split.source_file[i];
      const std::string name = file >= 0 && static_cast<size_t>(file) < source_files.size()
                                   ? source_files[static_cast<size_t>(file)]
                                   : "file #" + std::to_string(file);
      labels[k].push_back(
          slice_value(slice_by[k], split.pair_metadata(i), split.pair_fields(i), name));
    }
  }
  return labels;
}

const SliceMetrics* SliceBreakdown::find(const std::string& value) const {
  for (const SliceMetrics& slice : slices) {
    if (slice.value == value)
      return &slice;
  }
  return nullptr;
}

std::vector<SliceBreakdown> slice_metrics(
    const std::vector<std::string>& keys,
    const std::vector<std::vector<std::string>>& labels,
    const std::vector<PairOutcome>& pairs) {
  if (labels.size() != keys.size())
    throw std::invalid_argument("slice_metrics: one label list per key");
  std::vector<SliceBreakdown> out;
  for (size_t k = 0; k < keys.size(); ++k) {
    if (labels[k].size() != pairs.size())
      throw std::invalid_argument("slice_metrics: labels of '" + keys[k] + "' not one per pair");
    std::map<std::string, SliceSums> sums;
    for (size_t i = 0; i < pairs.size(); ++i) {
      SliceSums& s = sums[labels[k][i]];
      const double margin = pairs[i].reward_chosen - pairs[i].reward_rejected;
      s.pairs += 1;
      s.loss += pairs[i].loss;
      s.accuracy += margin > 0 ? 1.0 : (margin == 0 ? 0.5 : 0.0);
      s.margin += margin;
      s.chosen += pairs[i].reward_chosen;
      s.rejected += pairs[i].reward_rejected;
    }
    SliceBreakdown breakdown;
    breakdown.key = keys[k];
    for (const auto& [value, s] : sums) {
      const double n = static_cast<double>(s.pairs);
      breakdown.slices.push_back(
          {value, s.pairs, s.loss / n, s.accuracy / n, s.margin / n, s.chosen / n, s.rejected / n});
    }
    out.push_back(std::move(breakdown));
  }
  return out;
}

std::string slices_to_json(const std::vector<SliceBreakdown>& slices) {
  json out = json::object();
  for (const SliceBreakdown& breakdown : slices) {
    json values = json::object();
    for (const SliceMetrics& s : breakdown.slices) {
      values[s.value] = {
          {"pairs", s.pairs},
          {"loss", s.loss},
          {"accuracy", s.accuracy},
          {"margin", s.margin},
          {"reward_chosen", s.reward_chosen},
          {"reward_rejected", s.reward_rejected}};
    }
    out[breakdown.key] = values;
  }
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::vector<SliceBreakdown> slices_from_json(const std::string& text) {
  json in = json::parse(text);
  std::vector<SliceBreakdown> out;
  for (const auto& [key, values] : in.items()) {
    SliceBreakdown breakdown;
    breakdown.key = key;
    for (const auto& [value, s] : values.items()) {
      breakdown.slices.push_back(
          {value,
           s.at("pairs").get<int64_t>(),
           s.at("loss").get<double>(),
           s.at("accuracy").get<double>(),
           s.at("margin").get<double>(),
           s.value("reward_chosen", 0.0),
           s.value("reward_rejected", 0.0)});
    }
    out.push_back(std::move(breakdown));
  }
  return out;
}

std::string slices_table(const std::vector<SliceBreakdown>& slices) {
  std::string out;
  char line[1024];
  for (const SliceBreakdown& breakdown : slices) {
    out += "  by " + breakdown.key + ":\n";
    int width = 24;
    for (const SliceMetrics& s : breakdown.slices)
      width = std::max(width, static_cast<int>(std::min<size_t>(s.value.size(), 200)));
    for (const SliceMetrics& s : breakdown.slices) {
      std::snprintf(
          line,
          sizeof line,
          "    %-*s pairs %5lld  loss %.4f  accuracy %.3f  margin %.4f\n",
          width,
          s.value.c_str(),
          static_cast<long long>(s.pairs),
          s.loss,
          s.accuracy,
          s.margin);
      out += line;
    }
    // Every pair without the field: most often "metadata." was left out of the key.
    if (breakdown.slices.size() == 1 && breakdown.slices[0].value == kNoSliceValue) {
      out += "    warning: no pair has the field '" + breakdown.key + "'" +
             (breakdown.key.rfind("metadata.", 0) == 0 || breakdown.key == "source_file"
                  ? std::string()
                  : " (a top-level field; metadata.KEY names a field of the metadata object)") +
             "\n";
    }
  }
  return out;
}

double accuracy_difference_standard_error(double p1, int64_t n1, double p2, int64_t n2) {
  if (n1 <= 0 || n2 <= 0)
    return 0;
  const double a = static_cast<double>(n1), b = static_cast<double>(n2);
  const double pooled = (p1 * a + p2 * b) / (a + b);
  return std::sqrt(std::max(0.0, pooled * (1 - pooled)) * (1 / a + 1 / b));
}

}  // namespace dpo
