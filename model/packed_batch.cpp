// Shared-prefix and padding-free layouts of a batch of sequences (plain CPU loops over ids).
#include "model/packed_batch.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <string>

#include "core/error.h"
#include "model/sequence_logprobs.h"

namespace dpo {
namespace {

constexpr int64_t kPrompt = 0, kChosen = 1, kRejected = 2, kPadding = 3;

// One unit of attention: a sequence, or a pair sharing its prompt.
struct Unit {
  int64_t prompt = 0;                // P
  std::vector<int64_t> completions;  // the sequences (input rows) whose completions follow it
};

// Appends tokens to a row being built, with their position, segment and predictions.
struct RowBuilder {
  std::vector<int64_t> ids, positions, segments;
  std::vector<int64_t> predict, targets, sequence;
  std::vector<std::vector<int64_t>> views;  // per completion: prompt positions + its own
};

}  // namespace

PackedBatch pack_sequences(
    const at::Tensor& input_ids,
    const at::Tensor& completion_start,
    const at::Tensor& completion_length,
    PairLayout layout) {
  TORCH_CHECK(input_ids.dim() == 2, "input_ids must be [N, T], got ", input_ids.sizes());
  const int64_t n = input_ids.size(0), t = input_ids.size(1);
  TORCH_CHECK(
      completion_start.numel() == n && completion_length.numel() == n,
      "completion_start and completion_length must be [N]");
  at::Tensor ids_cpu = input_ids.to(at::kCPU, at::kLong).contiguous();
  at::Tensor start_cpu = completion_start.to(at::kCPU, at::kLong).contiguous();
  at::Tensor length_cpu = completion_length.to(at::kCPU, at::kLong).contiguous();
  const int64_t* ids = ids_cpu.data_ptr<int64_t>();
  const int64_t* s = start_cpu.data_ptr<int64_t>();
  const int64_t* l = length_cpu.data_ptr<int64_t>();

  PackedBatch out;
  out.sequences = n;
  int64_t longest = 1;
  for (int64_t r = 0; r < n; ++r) {
    require_completion_in_row(r, s[r], l[r], t);
    longest = std::max(longest, s[r] + l[r]);
    out.real_tokens += s[r] + l[r];
  }
  out.padded_tokens = n * longest;

  // The units of attention, in input order (pairs in pair order).
  std::vector<Unit> units;
  if (layout.prefix_sharing) {
    if (n % 2 != 0)
      throw DataError(
          "prefix sharing needs chosen and rejected rows in pairs, got " + std::to_string(n) +
              " rows",
          "set train.prefix_sharing = false");
    const int64_t pairs = n / 2;
    for (int64_t i = 0; i < pairs; ++i) {
      const int64_t c = i, r = pairs + i;
      if (s[c] != s[r] || !std::equal(ids + c * t, ids + c * t + s[c], ids + r * t)) {
        throw DataError(
            "pair " + std::to_string(i) +
                ": the chosen and rejected sequences have different "
                "prompts, so they cannot share one",
            "set train.prefix_sharing = false for data whose pairs do not share a prompt");
      }
      units.push_back({s[c], {c, r}});
    }
  } else {
    for (int64_t r = 0; r < n; ++r)
      units.push_back({s[r], {r}});
  }

  // Builds one unit at the end of `row`; returns its length.
  auto append_unit = [&](RowBuilder& row, const Unit& unit, int64_t row_index, int64_t width) {
    const int64_t base = static_cast<int64_t>(row.ids.size());
    const int64_t first = unit.completions.front();
    const int64_t* prompt = ids + first * t;
    for (int64_t p = 0; p < unit.prompt; ++p) {
      row.ids.push_back(prompt[p]);
      row.positions.push_back(p);
      row.segments.push_back(kPrompt);
    }
    for (size_t k = 0; k < unit.completions.size(); ++k) {
      const int64_t seq = unit.completions[k];
      const int64_t* tokens = ids + seq * t + unit.prompt;
      const int64_t segment =
          unit.completions.size() == 1 ? kPrompt : (k == 0 ? kChosen : kRejected);
      // Its attention view: the prompt, then its own tokens.
      std::vector<int64_t> view;
      for (int64_t p = 0; p < unit.prompt; ++p)
        view.push_back(base + p);
      for (int64_t c = 0; c < l[seq]; ++c) {
        const int64_t here = static_cast<int64_t>(row.ids.size());
        // The first completion token is predicted at the last prompt position, every later one
        // at the token before it in the same completion.
        const int64_t from = c == 0 ? base + unit.prompt - 1 : here - 1;
        row.predict.push_back(row_index * width + from);
        row.targets.push_back(tokens[c]);
        row.sequence.push_back(seq);
        row.ids.push_back(tokens[c]);
        view.push_back(here);
        row.positions.push_back(unit.prompt + c);
        row.segments.push_back(segment);
      }
      row.views.push_back(std::move(view));
    }
    return static_cast<int64_t>(row.ids.size()) - base;
  };
  auto unit_length = [&](const Unit& unit) {
    int64_t length = unit.prompt;
    for (int64_t seq : unit.completions)
      length += l[seq];
    return length;
  };

  std::vector<RowBuilder> rows;
  int64_t width = 0;
  if (layout.padding_free) {
    // One row; one attention view per sequence.
    for (const Unit& unit : units)
      width += unit_length(unit);
    rows.emplace_back();
    for (const Unit& unit : units)
      append_unit(rows[0], unit, 0, width);
    out.views = std::move(rows[0].views);
  } else {
    // One row per unit, right-padded to the longest.
    for (const Unit& unit : units)
      width = std::max(width, unit_length(unit));
    for (size_t u = 0; u < units.size(); ++u) {
      rows.emplace_back();
      RowBuilder& row = rows.back();
      append_unit(row, units[u], static_cast<int64_t>(u), width);
      while (static_cast<int64_t>(row.ids.size()) < width) {
        row.ids.push_back(0);  // padding: sees nothing real and is seen by nothing real
        row.positions.push_back(static_cast<int64_t>(row.ids.size()) - 1);
        row.segments.push_back(kPadding);
      }
    }
  }

  std::vector<int64_t> flat_ids, flat_positions, flat_segments, predict, targets, sequence;
  for (const RowBuilder& row : rows) {
    flat_ids.insert(flat_ids.end(), row.ids.begin(), row.ids.end());
    flat_positions.insert(flat_positions.end(), row.positions.begin(), row.positions.end());
    flat_segments.insert(flat_segments.end(), row.segments.begin(), row.segments.end());
    predict.insert(predict.end(), row.predict.begin(), row.predict.end());
    targets.insert(targets.end(), row.targets.begin(), row.targets.end());
    sequence.insert(sequence.end(), row.sequence.begin(), row.sequence.end());
  }
  const int64_t row_count = static_cast<int64_t>(rows.size());
  auto long_options = at::TensorOptions().dtype(at::kLong);
  out.input_ids = at::tensor(flat_ids, long_options).view({row_count, width});
  out.positions = at::tensor(flat_positions, long_options).view({row_count, width});
  if (layout.prefix_sharing && !layout.padding_free)
    out.segments = at::tensor(flat_segments, long_options).view({row_count, width});
  out.predict = at::tensor(predict, long_options);
  out.targets = at::tensor(targets, long_options);
  out.sequence = at::tensor(sequence, long_options);
  out.counts = length_cpu.clone();
  out.computed_tokens = row_count * width;
  return out;
}

}  // namespace dpo
