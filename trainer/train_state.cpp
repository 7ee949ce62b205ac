// trainer_state.json: TrainState to JSON and back, with errors that name the file and the key.
#include "trainer/train_state.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/file_io.h"
#include "core/json_file.h"

namespace dpo {
namespace {

using json = nlohmann::json;

constexpr const char* kHint =
    "the checkpoint is damaged or from another version of dpo: resume from an earlier checkpoint "
    "(edit checkpoints/LATEST) or start the run again without --resume";

// The value of `key` in `object`, as T; CheckpointError naming the file and the key otherwise.
template <class T>
T get(
    const json& object, const char* key, const std::string& origin, const std::string& where = "") {
  const std::string path = where.empty() ? key : where + "." + key;
  const auto it = object.find(key);
  if (it == object.end()) {
    throw CheckpointError("'" + origin + "' has no key '" + path + "'", kHint);
  }
  try {
    return it->get<T>();
  } catch (const json::exception&) {
    throw CheckpointError(
        "'" + origin + "': key '" + path + "' has the wrong type (" + it->dump() + ")", kHint);
  }
}

}  // namespace

std::string to_json_text(const TrainState& s) {
  json evaluations = json::array();
  for (const EvalPoint& p : s.evaluations) {
    evaluations.push_back(
        {{"step", p.step},
         {"train_loss", p.train_loss},
         {"train_accuracy", p.train_accuracy},
         {"val_loss", p.val_loss},
         {"val_accuracy", p.val_accuracy},
         {"val_chosen_logps_per_token", p.val_chosen_logps_per_token}});
  }
  json state = {
      {"step", s.step},
      {"optimizer_steps", s.optimizer_steps},
      {"loader_epoch", s.loader.epoch},
      {"loader_cursor", s.loader.cursor},
      {"bco_mean", s.bco_mean},
      {"bco_count", s.bco_count},
      {"consecutive_bad_steps", s.consecutive_bad_steps},
      {"bad_steps", s.bad_steps},
      {"evaluations", evaluations},
      {"total_steps", s.total_steps},
      {"config", json::parse(to_json_text(s.config))},
      {"prepared_fingerprint", s.prepared_fingerprint},
      {"reference_hash", s.reference_hash},
      {"world_size", s.world_size}};
  return state.dump(2) + "\n";
}

TrainState train_state_from_json_text(const std::string& text, const std::string& origin) {
  const json root = parse_json(
      text, JsonSource("'" + origin + "' is not valid JSON", JsonErrorKind::checkpoint, kHint));
  if (root.is_discarded() || !root.is_object()) {
    throw CheckpointError("'" + origin + "' is not a JSON object", kHint);
  }
  TrainState s;
  s.step = get<int64_t>(root, "step", origin);
  s.optimizer_steps = get<int64_t>(root, "optimizer_steps", origin);
  s.loader.epoch = get<int64_t>(root, "loader_epoch", origin);
  s.loader.cursor = get<int64_t>(root, "loader_cursor", origin);
  s.bco_mean = get<double>(root, "bco_mean", origin);
  s.bco_count = get<int64_t>(root, "bco_count", origin);
  s.consecutive_bad_steps = get<int64_t>(root, "consecutive_bad_steps", origin);
  s.bad_steps = get<int64_t>(root, "bad_steps", origin);
  const json evaluations = get<json>(root, "evaluations", origin);
  if (!evaluations.is_array()) {
    throw CheckpointError("'" + origin + "': key 'evaluations' must be an array", kHint);
  }
  for (size_t i = 0; i < evaluations.size(); ++i) {
    const json& point = evaluations[i];
    const std::string where = "evaluations[" + std::to_string(i) + "]";
    if (!point.is_object()) {
      throw CheckpointError("'" + origin + "': '" + where + "' must be an object", kHint);
    }
    s.evaluations.push_back(EvalPoint{
        get<uint64_t>(point, "step", origin, where),
        get<double>(point, "train_loss", origin, where),
        get<double>(point, "train_accuracy", origin, where),
        get<double>(point, "val_loss", origin, where),
        get<double>(point, "val_accuracy", origin, where),
        get<double>(point, "val_chosen_logps_per_token", origin, where)});
  }
  s.total_steps = get<int64_t>(root, "total_steps", origin);
  const json config = get<json>(root, "config", origin);
  try {
    s.config = config_from_json_text(config.dump(), "'config' of " + origin);
  } catch (const ConfigError& e) {
    throw CheckpointError(e.message(), kHint);
  }
  if (root.contains("prepared_fingerprint"))
    s.prepared_fingerprint = get<std::string>(root, "prepared_fingerprint", origin);
  if (root.contains("reference_hash"))
    s.reference_hash = get<std::string>(root, "reference_hash", origin);
  if (root.contains("world_size"))
    s.world_size = get<int64_t>(root, "world_size", origin);
  if (s.world_size < 1)
    throw CheckpointError("'" + origin + "': key 'world_size' must be at least 1", kHint);
  return s;
}

TrainState read_train_state(const std::string& path) {
  return train_state_from_json_text(read_file(path, "trainer state"), path);
}

}  // namespace dpo
