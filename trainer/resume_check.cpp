#include "trainer/resume_check.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/log.h"

namespace dpo {
namespace {

using json = nlohmann::json;

constexpr const char* kStateHint =
    "the checkpoint's trainer_state.json is damaged or was edited: resume from an earlier "
    "checkpoint (point checkpoints/LATEST at another step-* folder) or start again with "
    "--overwrite";

void flatten(
    const json& value, const std::string& prefix, std::vector<std::pair<std::string, json>>& out) {
  if (value.is_object()) {
    for (auto it = value.begin(); it != value.end(); ++it)
      flatten(it.value(), prefix.empty() ? it.key() : prefix + "." + it.key(), out);
    return;
  }
  out.emplace_back(prefix, value);
}

std::vector<std::pair<std::string, json>> flat_config(const Config& config) {
  std::vector<std::pair<std::string, json>> out;
  flatten(json::parse(to_json_text(config)), "", out);
  return out;
}

bool starts_with(const std::string& text, const char* prefix) {
  return text.rfind(prefix, 0) == 0;
}

[[noreturn]] void bad_state(const std::string& path, const std::string& what) {
  throw CheckpointError("'" + path + "': " + what, kStateHint);
}

}  // namespace

std::string ConfigChange::text() const {
  return key + ": " + old_value + " -> " + new_value;
}

std::vector<ConfigChange> config_changes(const Config& before, const Config& now) {
  const auto old_keys = flat_config(before), new_keys = flat_config(now);
  std::vector<ConfigChange> changes;
  for (const auto& [key, value] : new_keys) {
    auto it = std::find_if(
        old_keys.begin(), old_keys.end(), [&](const auto& entry) { return entry.first == key; });
    const std::string old_value = it == old_keys.end() ? "(absent)" : it->second.dump();
    if (it == old_keys.end() || it->second != value)
      changes.push_back({key, old_value, value.dump()});
  }
  return changes;
}

bool change_is_harmless(const std::string& key) {
  static const char* const kHarmless[] = {
      "train.out_dir",
      "train.log_every_steps",
      "train.save_every_steps",
      "train.keep_checkpoints",
      "train.threads",
      "train.device",
      "train.max_bad_steps",
      "data.prepared",
      "model.path",
      "model.dtype",
      "reference.path",
      "reference.step0_tolerance",
      "ranks"};
  for (const char* harmless : kHarmless) {
    if (key == harmless)
      return true;
  }
  // Evaluation and alarms, the gates, and what only shapes a prepared file (its fingerprint is
  // compared instead).
  return starts_with(key, "eval.") || starts_with(key, "check.") || starts_with(key, "compare.") ||
         starts_with(key, "data.") || starts_with(key, "template.") ||
         starts_with(key, "distributed.");
}

void check_train_state(const TrainState& s, const std::string& path) {
  const std::pair<const char*, int64_t> counters[] = {
      {"step", s.step},
      {"optimizer_steps", s.optimizer_steps},
      {"loader_epoch", s.loader.epoch},
      {"loader_cursor", s.loader.cursor},
      {"bco_count", s.bco_count},
      {"consecutive_bad_steps", s.consecutive_bad_steps},
      {"bad_steps", s.bad_steps},
      {"total_steps", s.total_steps}};
  for (const auto& [key, value] : counters) {
    if (value < 0)
      bad_state(path, "key '" + std::string(key) + "' (" + std::to_string(value) + ") is negative");
  }
  if (s.total_steps == 0 || s.step > s.total_steps) {
    bad_state(
        path,
        "key 'step' (" + std::to_string(s.step) + ") is past key 'total_steps' (" +
            std::to_string(s.total_steps) + ")");
  }
  if (s.optimizer_steps > s.step) {
    bad_state(
        path,
        "key 'optimizer_steps' (" + std::to_string(s.optimizer_steps) + ") exceeds key 'step' (" +
            std::to_string(s.step) + ")");
  }
  if (s.bad_steps > s.step || s.consecutive_bad_steps > s.bad_steps) {
    bad_state(
        path,
        "keys 'bad_steps' (" + std::to_string(s.bad_steps) + ") and 'consecutive_bad_steps' (" +
            std::to_string(s.consecutive_bad_steps) + ") do not fit key 'step' (" +
            std::to_string(s.step) + ")");
  }
  if (!std::isfinite(s.bco_mean))
    bad_state(path, "key 'bco_mean' is not finite");
  for (size_t i = 0; i < s.evaluations.size(); ++i) {
    if (s.evaluations[i].step > static_cast<uint64_t>(s.step)) {
      bad_state(
          path,
          "key 'evaluations[" + std::to_string(i) + "].step' (" +
              std::to_string(s.evaluations[i].step) + ") is past key 'step' (" +
              std::to_string(s.step) + ")");
    }
  }
}

void check_resume_config(
    const TrainState& state,
    const Config& now,
    const std::string& now_fingerprint,
    const std::string& now_reference_hash,
    int64_t now_total_steps,
    const std::vector<std::string>& allowed,
    const std::string& path,
    int64_t now_world_size) {
  std::vector<ConfigChange> changes = config_changes(state.config, now);
  // Another number of ranks: the loader's plan is made for the global micro-batch, which must
  // stay; the pairs per rank follow from it.
  const int64_t saved_global = state.config.train.micro_batch_pairs * state.world_size;
  const int64_t now_global = now.train.micro_batch_pairs * now_world_size;
  if (state.world_size != now_world_size) {
    changes.erase(
        std::remove_if(
            changes.begin(),
            changes.end(),
            [](const ConfigChange& c) { return c.key == "train.micro_batch_pairs"; }),
        changes.end());
    changes.push_back({"ranks", std::to_string(state.world_size), std::to_string(now_world_size)});
    if (saved_global != now_global) {
      changes.push_back(
          {"global micro-batch (train.micro_batch_pairs x ranks)",
           std::to_string(state.config.train.micro_batch_pairs) + " x " +
               std::to_string(state.world_size) + " = " + std::to_string(saved_global),
           std::to_string(now.train.micro_batch_pairs) + " x " + std::to_string(now_world_size) +
               " = " + std::to_string(now_global)});
    }
  }
  // What the paths hold, beside the paths themselves.
  if (!state.prepared_fingerprint.empty() && state.prepared_fingerprint != now_fingerprint) {
    changes.push_back(
        {"prepared data fingerprint",
         state.prepared_fingerprint.substr(0, 16),
         now_fingerprint.substr(0, 16)});
  }
  if (!state.reference_hash.empty() && state.reference_hash != now_reference_hash) {
    changes.push_back(
        {"reference model content hash",
         state.reference_hash.substr(0, 16),
         now_reference_hash.substr(0, 16)});
  }
  if (state.total_steps != now_total_steps) {
    changes.push_back(
        {"total_steps", std::to_string(state.total_steps), std::to_string(now_total_steps)});
  }
  std::vector<std::string> refused, noted;
  for (const ConfigChange& change : changes) {
    const bool is_allowed =
        std::find(allowed.begin(), allowed.end(), change.key) != allowed.end() ||
        (change.key == "total_steps" &&
         (std::find(allowed.begin(), allowed.end(), "train.max_steps") != allowed.end() ||
          std::find(allowed.begin(), allowed.end(), "train.epochs") != allowed.end()));
    if (change_is_harmless(change.key) || is_allowed)
      noted.push_back(change.text() + (is_allowed ? " (allowed)" : ""));
    else
      refused.push_back(change.text());
  }
  if (!refused.empty()) {
    std::string listed;
    for (const std::string& line : refused)
      listed += "\n  " + line;
    throw CheckpointError(
        "cannot resume from '" + path + "': this config differs from the checkpoint's in " +
            std::to_string(refused.size()) +
            (refused.size() == 1 ? " key that changes" : " keys that change") +
            " the data order or the optimisation (checkpoint -> now):" + listed,
        "resume with the checkpoint's values (its config is in trainer_state.json), accept a "
        "change with --resume-allow-change KEY (the run is then no longer the one it continues), "
        "or start a new run in another train.out_dir");
  }
  for (const std::string& line : noted)
    DPO_LOG_INFO("train", "resuming with a changed setting: %s", line.c_str());
  if (state.step > now_total_steps) {
    throw CheckpointError(
        "cannot resume from '" + path + "': its step " + std::to_string(state.step) +
            " is past this run's last step " + std::to_string(now_total_steps),
        "raise train.max_steps (with --resume-allow-change train.max_steps), or use final/ of "
        "the finished run");
  }
}

void check_loader_position(
    const TrainState& state, int64_t batches_per_epoch, const std::string& path) {
  if (state.loader.cursor >= batches_per_epoch) {
    bad_state(
        path,
        "key 'loader_cursor' (" + std::to_string(state.loader.cursor) +
            ") is past the last batch of an epoch (" + std::to_string(batches_per_epoch) +
            " batches of train.micro_batch_pairs pairs)");
  }
}

}  // namespace dpo
