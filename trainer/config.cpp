// Reading, overriding, checking and writing the run configuration (trainer/config.h).
//
// One visitor per job walks the sections' fields in declaration order: a Reader fills them from
// JSON (rejecting unknown keys and wrong types with their path), a Writer turns them into JSON
// and a KeyLister lists them. A new key is one line in a visit() function (and a row in
// docs/config.md; a test checks that every key is documented).
#include "trainer/config.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/file_io.h"
#include "core/hash.h"
#include "core/json_file.h"
#include "core/text.h"
#include "data/row_fields.h"

namespace dpo {

using Json = nlohmann::ordered_json;

namespace {

// ---- enum names --------------------------------------------------------------------------

template <class E>
struct EnumName {
  E value;
  const char* name;
};

const EnumName<ScheduleKind> kScheduleNames[] = {
    {ScheduleKind::constant, "constant"},
    {ScheduleKind::linear, "linear"},
    {ScheduleKind::cosine, "cosine"}};
const EnumName<DeviceChoice> kDeviceNames[] = {
    {DeviceChoice::auto_detect, "auto"}, {DeviceChoice::cpu, "cpu"}, {DeviceChoice::cuda, "cuda"}};
const EnumName<TrainDtype> kTrainDtypeNames[] = {
    {TrainDtype::fp32, "fp32"}, {TrainDtype::bf16, "bf16"}, {TrainDtype::bf16_pure, "bf16_pure"}};
const EnumName<ModelDtype> kModelDtypeNames[] = {
    {ModelDtype::auto_detect, "auto"}, {ModelDtype::fp32, "fp32"}, {ModelDtype::bf16, "bf16"}};
const EnumName<ReferenceMode> kReferenceModeNames[] = {
    {ReferenceMode::precomputed, "precomputed"}, {ReferenceMode::live, "live"}};
const EnumName<LoraInit> kLoraInitNames[] = {
    {LoraInit::kaiming, "kaiming"}, {LoraInit::gaussian, "gaussian"}};

template <class E, size_t N>
const char* name_of(const EnumName<E> (&table)[N], E value) {
  for (const auto& entry : table) {
    if (entry.value == value)
      return entry.name;
  }
  return "unknown";
}

// Throws std::invalid_argument with the allowed names as its message.
template <class E, size_t N>
E parse_enum(const EnumName<E> (&table)[N], const std::string& name) {
  std::string allowed;
  for (const auto& entry : table) {
    if (name == entry.name)
      return entry.value;
    allowed += (allowed.empty() ? "" : ", ") + std::string(entry.name);
  }
  throw std::invalid_argument(allowed);
}

// The names PyTorch and Hugging Face use, accepted for train.dtype; written back as the short
// names above.
const EnumName<TrainDtype> kTrainDtypeAliases[] = {
    {TrainDtype::fp32, "float32"}, {TrainDtype::bf16, "bfloat16"}};

TrainDtype parse_train_dtype(const std::string& name) {
  for (const auto& alias : kTrainDtypeAliases) {
    if (name == alias.name)
      return alias.value;
  }
  try {
    return parse_enum(kTrainDtypeNames, name);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string(e.what()) + " (or float32, bfloat16)");
  }
}

// ---- visiting the sections ---------------------------------------------------------------

template <class V>
void visit(DataSection& s, V& v) {
  v.field("prepared", s.prepared);
  v.field("files", s.files);
  v.field("val_fraction", s.val_fraction);
  v.field("seed", s.seed);
  v.field("max_length", s.max_length);
  v.field("length_policy", s.length_policy);
  v.field("add_bos", s.add_bos);
  v.field("format", s.format);
  v.field("slice_by", s.slice_by);
  v.field("reviewer_field", s.reviewer_field);
  v.field("judge_field", s.judge_field);
  v.field("timestamp_field", s.timestamp_field);
  v.field("max_age_days", s.max_age_days);
}

template <class V>
void visit(TemplateSection& s, V& v) {
  v.field("source", s.source);
  v.field("name", s.name);
}

template <class V>
void visit(ModelSection& s, V& v) {
  v.field("path", s.path);
  v.field("dtype", s.dtype);
}

template <class V>
void visit(ReferenceSection& s, V& v) {
  v.field("mode", s.mode);
  v.field("path", s.path);
  v.field("step0_tolerance", s.step0_tolerance);
}

template <class V>
void visit(LossConfig& s, V& v) {
  v.field("types", s.types);
  v.field("weights", s.weights);
  v.field("beta", s.beta);
  v.field("label_smoothing", s.label_smoothing);
  v.field("simpo_gamma", s.simpo_gamma);
  v.field("discopop_tau", s.discopop_tau);
  v.field("reference_free", s.reference_free);
}

template <class V>
void visit(OptimSection& s, V& v) {
  v.field("lr", s.lr);
  v.field("weight_decay", s.weight_decay);
  v.field("betas", s.betas);
  v.field("eps", s.eps);
  v.field("warmup_steps", s.warmup_steps);
  v.field("schedule", s.schedule);
  v.field("min_lr_ratio", s.min_lr_ratio);
  v.field("grad_clip", s.grad_clip);
}

template <class V>
void visit(TrainSection& s, V& v) {
  v.field("device", s.device);
  v.field("dtype", s.dtype);
  v.field("micro_batch_pairs", s.micro_batch_pairs);
  v.field("grad_accum", s.grad_accum);
  v.field("max_steps", s.max_steps);
  v.field("epochs", s.epochs);
  v.field("seed", s.seed);
  v.field("threads", s.threads);
  v.field("log_every_steps", s.log_every_steps);
  v.field("save_every_steps", s.save_every_steps);
  v.field("keep_checkpoints", s.keep_checkpoints);
  v.field("max_bad_steps", s.max_bad_steps);
  v.field("out_dir", s.out_dir);
  v.field("prefix_sharing", s.prefix_sharing);
  v.field("padding_free", s.padding_free);
  v.field("gradient_checkpointing", s.gradient_checkpointing);
  v.field("merge_lora", s.merge_lora);
}

template <class V>
void visit(LoraConfig& s, V& v) {
  v.field("enabled", s.enabled);
  v.field("rank", s.rank);
  v.field("alpha", s.alpha);
  v.field("dropout", s.dropout);
  v.field("target_modules", s.target_modules);
  v.field("use_rslora", s.use_rslora);
  v.field("init", s.init);
  v.field("train_embeddings", s.train_embeddings);
  v.field("train_lm_head", s.train_lm_head);
  v.field("init_adapter", s.init_adapter);
  v.field("merge_init_adapter_into_reference", s.merge_init_adapter_into_reference);
}

template <class V>
void visit(EvalSection& s, V& v) {
  v.field("every_steps", s.every_steps);
  v.field("max_pairs", s.max_pairs);
  v.field("batch_pairs", s.batch_pairs);
  v.field("patience", s.patience);
  v.field("gap_threshold", s.gap_threshold);
  v.field("displacement_threshold", s.displacement_threshold);
  v.field("train_accuracy_high", s.train_accuracy_high);
  v.field("min_improvement", s.min_improvement);
  v.field("saturated_accuracy", s.saturated_accuracy);
  v.field("near_zero_loss", s.near_zero_loss);
  v.field("min_loss_rise", s.min_loss_rise);
  v.field("early_stop", s.early_stop);
}

template <class V>
void visit(CheckSection& s, V& v) {
  v.field("steps", s.steps);
  v.field("max_error_rate", s.max_error_rate);
  v.field("min_train_accuracy", s.min_train_accuracy);
  v.field("min_val_accuracy_margin", s.min_val_accuracy_margin);
  v.field("allow_truncation", s.allow_truncation);
  v.field("allow_alarms", s.allow_alarms);
  v.field("min_slice_accuracy", s.min_slice_accuracy);
  v.field("min_slice_pairs", s.min_slice_pairs);
  v.field("easy_margin", s.easy_margin);
  v.field("ambiguous_margin", s.ambiguous_margin);
  v.field("max_easy_share", s.max_easy_share);
  v.field("max_ambiguous_share", s.max_ambiguous_share);
}

template <class V>
void visit(CompareSection& s, V& v) {
  v.field("steps", s.steps);
  v.field("max_accuracy_drop", s.max_accuracy_drop);
  v.field("noise_seeds", s.noise_seeds);
  v.field("noise_multiplier", s.noise_multiplier);
  v.field("max_error_increase", s.max_error_increase);
  v.field("max_label_flip_fraction", s.max_label_flip_fraction);
  v.field("slice_noise_multiplier", s.slice_noise_multiplier);
  v.field("min_slice_pairs", s.min_slice_pairs);
}

template <class V>
void visit(DistributedSection& s, V& v) {
  v.field("backend", s.backend);
  v.field("timeout_s", s.timeout_s);
  v.field("bucket_mib", s.bucket_mib);
}

template <class V>
void visit_config(Config& c, V& v) {
  v.section("data", [&] { visit(c.data, v); });
  v.section("template", [&] { visit(c.template_, v); });
  v.section("model", [&] { visit(c.model, v); });
  v.section("reference", [&] { visit(c.reference, v); });
  v.section("loss", [&] { visit(c.loss, v); });
  v.section("optim", [&] { visit(c.optim, v); });
  v.section("train", [&] { visit(c.train, v); });
  v.section("eval", [&] { visit(c.eval, v); });
  v.section("check", [&] { visit(c.check, v); });
  v.section("compare", [&] { visit(c.compare, v); });
  v.section("lora", [&] { visit(c.lora, v); });
  v.section("distributed", [&] { visit(c.distributed, v); });
}

// ---- Reader: JSON -> struct --------------------------------------------------------------

const char* json_type_name(const Json& j) {
  if (j.is_boolean())
    return "a boolean";
  if (j.is_number_integer() || j.is_number_unsigned())
    return "an integer";
  if (j.is_number())
    return "a number";
  if (j.is_string())
    return "a string";
  if (j.is_array())
    return "an array";
  if (j.is_object())
    return "an object";
  return "null";
}

class Reader {
 public:
  Reader(const Json& root, const std::string& origin) : root_(root), origin_(printable(origin)) {}

  void read(Config& config) {
    if (!root_.is_object()) {
      throw ConfigError(
          "the config in " + origin_ + " must be a JSON object, got " + json_type_name(root_),
          "see docs/config.md");
    }
    visit_config(config, *this);
    for (const auto& item : root_.items()) {
      if (!known_sections_.count(item.key())) {
        throw ConfigError(
            "unknown section '" + printable(item.key()) + "' in " + origin_,
            "known sections: " + join(section_order_));
      }
    }
  }

  template <class F>
  void section(const char* name, F&& body) {
    known_sections_.insert(name);
    section_order_.push_back(name);
    section_name_ = name;
    known_keys_.clear();
    const auto it = root_.find(name);
    if (it == root_.end()) {
      current_ = nullptr;
      body();  // registers the keys; nothing is read
      return;
    }
    if (!it->is_object()) {
      throw ConfigError(
          "'" + std::string(name) + "' in " + origin_ + " must be an object, got " +
              json_type_name(*it),
          "write it as \"" + std::string(name) + "\": { ... }");
    }
    current_ = &*it;
    body();
    for (const auto& item : current_->items()) {
      if (std::find(known_keys_.begin(), known_keys_.end(), item.key()) == known_keys_.end()) {
        throw ConfigError(
            "unknown key '" + section_name_ + "." + printable(item.key()) + "' in " + origin_,
            "keys of '" + section_name_ + "': " + join(known_keys_) + " (docs/config.md)");
      }
    }
  }

  template <class T>
  void field(const char* key, T& value) {
    known_keys_.push_back(key);
    if (current_ == nullptr)
      return;
    const auto it = current_->find(key);
    if (it == current_->end())
      return;
    read_value(*it, value, section_name_ + "." + key);
  }

 private:
  static std::string join(const std::vector<std::string>& names) {
    std::string out;
    for (const auto& n : names)
      out += (out.empty() ? "" : ", ") + n;
    return out;
  }

  [[noreturn]] void type_error(const std::string& path, const Json& j, const char* expected) {
    throw ConfigError(
        "'" + path + "' in " + origin_ + " must be " + expected + ", got " + json_type_name(j) +
            " " + printable(j.dump(-1, ' ', false, Json::error_handler_t::replace)),
        "see docs/config.md for the type of each key");
  }

  void read_value(const Json& j, double& out, const std::string& path) {
    if (!j.is_number())
      type_error(path, j, "a number");
    out = j.get<double>();
  }
  void read_value(const Json& j, bool& out, const std::string& path) {
    if (!j.is_boolean())
      type_error(path, j, "true or false");
    out = j.get<bool>();
  }
  void read_value(const Json& j, std::string& out, const std::string& path) {
    if (!j.is_string())
      type_error(path, j, "a string");
    out = j.get<std::string>();
  }
  void read_value(const Json& j, int64_t& out, const std::string& path) {
    if (j.is_number_unsigned() &&
        j.get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max())) {
      type_error(path, j, "an integer that fits in 64 bits");
    }
    if (!j.is_number_integer())
      type_error(path, j, "an integer");
    out = j.get<int64_t>();
  }
  void read_value(const Json& j, uint64_t& out, const std::string& path) {
    if (!j.is_number_unsigned())
      type_error(path, j, "an integer >= 0");
    out = j.get<uint64_t>();
  }
  void read_value(const Json& j, std::vector<std::string>& out, const std::string& path) {
    if (!j.is_array())
      type_error(path, j, "an array of strings");
    std::vector<std::string> values;
    for (size_t i = 0; i < j.size(); ++i) {
      std::string s;
      read_value(j[i], s, path + "[" + std::to_string(i) + "]");
      values.push_back(s);
    }
    out = values;
  }
  void read_value(const Json& j, std::vector<double>& out, const std::string& path) {
    if (!j.is_array())
      type_error(path, j, "an array of numbers");
    std::vector<double> values;
    for (size_t i = 0; i < j.size(); ++i) {
      double d = 0;
      read_value(j[i], d, path + "[" + std::to_string(i) + "]");
      values.push_back(d);
    }
    out = values;
  }
  void read_value(const Json& j, std::array<double, 2>& out, const std::string& path) {
    if (!j.is_array() || j.size() != 2)
      type_error(path, j, "an array of two numbers");
    for (size_t i = 0; i < 2; ++i)
      read_value(j[i], out[i], path + "[" + std::to_string(i) + "]");
  }
  void read_value(const Json& j, std::vector<LossType>& out, const std::string& path) {
    if (!j.is_array())
      type_error(path, j, "an array of loss names");
    std::vector<LossType> values;
    for (size_t i = 0; i < j.size(); ++i) {
      std::string name;
      const std::string item = path + "[" + std::to_string(i) + "]";
      read_value(j[i], name, item);
      try {
        values.push_back(parse_loss_type(name));
      } catch (const Error& e) {
        throw ConfigError("'" + item + "' in " + origin_ + ": " + e.message(), e.hint());
      }
    }
    out = values;
  }
  // Enums are written as their names.
  template <class Parse, class E>
  void read_name(const Json& j, E& out, const std::string& path, Parse parse) {
    std::string name;
    read_value(j, name, path);
    try {
      out = parse(name);
    } catch (const std::invalid_argument& e) {
      throw ConfigError(
          "'" + path + "' in " + origin_ + ": unknown value '" + printable(name) + "'",
          std::string("use one of ") + e.what());
    } catch (const Error& e) {
      throw ConfigError("'" + path + "' in " + origin_ + ": " + e.message(), e.hint());
    }
  }
  void read_value(const Json& j, ScheduleKind& out, const std::string& path) {
    read_name(j, out, path, [](const std::string& n) { return parse_enum(kScheduleNames, n); });
  }
  void read_value(const Json& j, DeviceChoice& out, const std::string& path) {
    read_name(j, out, path, [](const std::string& n) { return parse_enum(kDeviceNames, n); });
  }
  void read_value(const Json& j, TrainDtype& out, const std::string& path) {
    read_name(j, out, path, [](const std::string& n) { return parse_train_dtype(n); });
  }
  void read_value(const Json& j, ModelDtype& out, const std::string& path) {
    read_name(j, out, path, [](const std::string& n) { return parse_enum(kModelDtypeNames, n); });
  }
  void read_value(const Json& j, ReferenceMode& out, const std::string& path) {
    read_name(
        j, out, path, [](const std::string& n) { return parse_enum(kReferenceModeNames, n); });
  }
  void read_value(const Json& j, LoraInit& out, const std::string& path) {
    read_name(j, out, path, [](const std::string& n) { return parse_enum(kLoraInitNames, n); });
  }
  void read_value(const Json& j, LengthPolicy& out, const std::string& path) {
    read_name(j, out, path, [](const std::string& n) { return parse_length_policy(n); });
  }
  void read_value(const Json& j, BosPolicy& out, const std::string& path) {
    read_name(j, out, path, [](const std::string& n) { return parse_bos_policy(n); });
  }
  void read_value(const Json& j, DataFormat& out, const std::string& path) {
    read_name(j, out, path, [](const std::string& n) { return parse_data_format(n); });
  }

  const Json& root_;
  std::string origin_;
  const Json* current_ = nullptr;
  std::string section_name_;
  std::vector<std::string> known_keys_;
  std::set<std::string> known_sections_;
  std::vector<std::string> section_order_;
};

// ---- Writer: struct -> JSON --------------------------------------------------------------

class Writer {
 public:
  Json json = Json::object();

  template <class F>
  void section(const char* name, F&& body) {
    current_ = Json::object();
    body();
    json[name] = current_;
  }
  template <class T>
  void field(const char* key, T& value) {
    current_[key] = to_json(value);
  }

 private:
  template <class T>
  static Json to_json(const T& value) {
    return Json(value);
  }
  static Json to_json(const std::array<double, 2>& v) {
    return Json::array({v[0], v[1]});
  }
  static Json to_json(const std::vector<LossType>& types) {
    Json out = Json::array();
    for (LossType t : types)
      out.push_back(loss_type_name(t));
    return out;
  }
  static Json to_json(ScheduleKind v) {
    return name_of(kScheduleNames, v);
  }
  static Json to_json(DeviceChoice v) {
    return name_of(kDeviceNames, v);
  }
  static Json to_json(TrainDtype v) {
    return name_of(kTrainDtypeNames, v);
  }
  static Json to_json(ModelDtype v) {
    return name_of(kModelDtypeNames, v);
  }
  static Json to_json(ReferenceMode v) {
    return name_of(kReferenceModeNames, v);
  }
  static Json to_json(LoraInit v) {
    return name_of(kLoraInitNames, v);
  }
  static Json to_json(LengthPolicy v) {
    return length_policy_name(v);
  }
  static Json to_json(BosPolicy v) {
    return bos_policy_name(v);
  }
  static Json to_json(DataFormat v) {
    return data_format_name(v);
  }

  Json current_;
};

// ---- KeyLister ---------------------------------------------------------------------------

struct KeyLister {
  std::vector<std::string> keys;
  std::string section_name;
  template <class F>
  void section(const char* name, F&& body) {
    section_name = name;
    body();
  }
  template <class T>
  void field(const char* key, T&) {
    keys.push_back(section_name + "." + key);
  }
};

Json parse_json(const std::string& text, const std::string& origin) {
  JsonParseOptions options;
  options.allow_comments = true;
  return parse_ordered_json(
      text,
      JsonSource(
          "cannot parse " + printable(origin) + " as JSON",
          JsonErrorKind::config,
          "check commas and quotes; // and /* */ comments are allowed; each key once",
          options));
}

// The value of `--set key=<text>`: JSON when it reads as JSON, else the text as a bare string
// (cosine, a path). Text that can only be meant as JSON (a number, an array, an object, a quoted
// string) but is not valid JSON is refused with the reason rather than taken as a string.
Json override_value(const std::string& text, const std::string& assignment) {
  const size_t bad = first_invalid_utf8(text);
  if (bad != std::string::npos) {
    throw ConfigError(
        "--set '" + printable(assignment) + "': the value is not valid UTF-8 (byte " +
            std::to_string(bad) + ")",
        "write the value as UTF-8 text");
  }
  Json value;
  JsonProblem problem;
  if (parse_json_strict(text, value, problem))
    return value;
  const std::string_view start = trim_whitespace(text);
  const bool json_intended =
      !start.empty() &&
      (start[0] == '[' || start[0] == '{' || start[0] == '"' ||
       (start[0] >= '0' && start[0] <= '9') ||
       (start[0] == '-' && start.size() > 1 && start[1] >= '0' && start[1] <= '9'));
  if (json_intended) {
    throw ConfigError(
        "--set '" + printable(assignment) + "': the value is not valid JSON: " + problem.describe(),
        "numbers must fit in a double; arrays and strings are JSON, e.g. "
        "--set loss.types='[\"sigmoid\",\"sft\"]'");
  }
  return Json(text);
}

// ---- validation helpers ------------------------------------------------------------------

[[noreturn]] void invalid(
    const std::string& key, const std::string& what, const std::string& hint) {
  throw ConfigError(key + " " + what, hint);
}

std::string num(double v) {
  std::ostringstream out;
  out << v;
  return out.str();
}

void require_fraction(const std::string& key, double v) {
  if (!(v >= 0 && v <= 1))
    invalid(key, "= " + num(v) + " must be in [0, 1]", "a fraction");
}
void require_at_least(const std::string& key, int64_t v, int64_t min) {
  if (v < min) {
    invalid(
        key, "= " + std::to_string(v) + " must be >= " + std::to_string(min), "see docs/config.md");
  }
}
void require_non_negative(const std::string& key, double v) {
  if (!(v >= 0) || !std::isfinite(v))
    invalid(key, "= " + num(v) + " must be >= 0", "see docs/config.md");
}

}  // namespace

Config config_from_json_text(const std::string& text, const std::string& origin) {
  const Json root = parse_json(text, origin);
  Config config;
  Reader(root, origin).read(config);
  return config;
}

Config load_config_file(const std::string& path) {
  std::string text;
  try {
    text = read_file(path, "config file");
  } catch (const IoError& e) {
    throw IoError(e.message(), "check the path; the shipped configs are in configs/");
  }
  return config_from_json_text(text, path);
}

void apply_override(Config& config, const std::string& assignment) {
  const size_t eq = assignment.find('=');
  const std::string key = assignment.substr(0, eq);
  const size_t dot = key.find('.');
  if (eq == std::string::npos || dot == std::string::npos || dot == 0 || dot + 1 == key.size()) {
    throw UsageError(
        "--set '" + printable(assignment) + "' is not section.key=value",
        "e.g. --set optim.lr=5e-7 or --set loss.types='[\"sigmoid\",\"sft\"]'");
  }
  const Json value = override_value(assignment.substr(eq + 1), assignment);
  Json root = Json::object();
  root[key.substr(0, dot)] = Json::object();
  root[key.substr(0, dot)][key.substr(dot + 1)] = value;
  Reader(root, "--set " + assignment).read(config);
}

// The lora section (the same rules as model/lora.h's validate_lora_config, kept here without
// LibTorch).
static void validate_lora_section(const Config& c) {
  const LoraConfig& l = c.lora;
  if (l.rank <= 0) {
    invalid(
        "lora.rank",
        "is " + std::to_string(l.rank) + ": a LoRA rank must be at least 1",
        "set lora.rank to e.g. 8 or 16");
  }
  if (!(l.alpha > 0) || !std::isfinite(l.alpha))
    invalid("lora.alpha", "must be positive", "PEFT's default is 8 (often 2 x rank)");
  if (!(l.dropout >= 0 && l.dropout < 1))
    invalid("lora.dropout", "must be in [0, 1)", "0 (PEFT's default) or e.g. 0.05");
  static const std::set<std::string> kTargets = {
      "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "all-linear"};
  if (l.target_modules.empty()) {
    invalid(
        "lora.target_modules",
        "is empty",
        "name the layers, e.g. [\"q_proj\", \"v_proj\"], or [\"all-linear\"]");
  }
  for (const std::string& name : l.target_modules) {
    if (!kTargets.count(name)) {
      invalid(
          "lora.target_modules",
          "holds '" + printable(name) + "', which is not a linear layer of a Llama-family model",
          "use q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj or all-linear");
    }
    if (name == "all-linear" && l.target_modules.size() > 1) {
      invalid(
          "lora.target_modules",
          "holds 'all-linear' beside other names: it must be the only entry",
          "write [\"all-linear\"] alone, or list the layers");
    }
  }
  if (!l.enabled) {
    if (c.train.merge_lora)
      invalid("train.merge_lora", "needs lora.enabled", "set lora.enabled = true");
    if (!l.init_adapter.empty())
      invalid("lora.init_adapter", "needs lora.enabled", "set lora.enabled = true");
    return;
  }
  if (l.dropout > 0 && c.train.gradient_checkpointing) {
    invalid(
        "lora.dropout",
        "> 0 with train.gradient_checkpointing: the recomputed forward would draw other dropout "
        "masks than the first",
        "set lora.dropout = 0 or train.gradient_checkpointing = false");
  }
  if (!c.reference.path.empty() && c.reference.path != c.model.path) {
    invalid(
        "reference.path",
        "is another model than model.path in a LoRA run: the reference of a LoRA run is its base "
        "with the adapters off",
        "leave reference.path empty");
  }
}

void validate_config(const Config& c) {
  // data
  if (!c.data.prepared.empty() && !c.data.files.empty()) {
    invalid(
        "data.prepared and data.files",
        "are both set",
        "give either a prepared .h5 file or the JSONL files to prepare");
  }
  require_fraction("data.val_fraction", c.data.val_fraction);
  require_at_least("data.max_length", c.data.max_length, 0);
  auto require_field_path = [](const std::string& key, const std::string& path) {
    try {
      check_field_path(path, key);
    } catch (const UsageError& e) {
      throw ConfigError(e.message(), e.hint());
    }
  };
  for (const std::string& path : c.data.slice_by)
    require_field_path("data.slice_by", path);
  require_field_path("data.reviewer_field", c.data.reviewer_field);
  require_field_path("data.judge_field", c.data.judge_field);
  require_field_path("data.timestamp_field", c.data.timestamp_field);
  if (!(c.data.max_age_days > 0))
    invalid(
        "data.max_age_days", "must be positive, got " + num(c.data.max_age_days), "365: a year");
  if (c.template_.source.empty()) {
    invalid("template.source", "is empty", "use \"model\" or the path of a .jinja file");
  }
  // reference
  require_non_negative("reference.step0_tolerance", c.reference.step0_tolerance);
  // loss
  validate_loss_config(c.loss, "loss");
  // optim
  if (!(c.optim.lr > 0) || !std::isfinite(c.optim.lr)) {
    invalid("optim.lr", "= " + num(c.optim.lr) + " must be > 0", "DPO typically uses 5e-7 to 5e-6");
  }
  require_non_negative("optim.weight_decay", c.optim.weight_decay);
  for (int i = 0; i < 2; ++i) {
    const double b = c.optim.betas[i];
    if (!(b >= 0 && b < 1)) {
      invalid(
          "optim.betas[" + std::to_string(i) + "]",
          "= " + num(b) + " must be in [0, 1)",
          "AdamW's usual betas are [0.9, 0.999]");
    }
  }
  if (!(c.optim.eps > 0))
    invalid("optim.eps", "must be > 0", "e.g. 1e-8");
  require_at_least("optim.warmup_steps", c.optim.warmup_steps, 0);
  require_fraction("optim.min_lr_ratio", c.optim.min_lr_ratio);
  require_non_negative("optim.grad_clip", c.optim.grad_clip);
  // train
  require_at_least("train.micro_batch_pairs", c.train.micro_batch_pairs, 1);
  require_at_least("train.grad_accum", c.train.grad_accum, 1);
  require_at_least("train.max_steps", c.train.max_steps, 0);
  require_at_least("train.epochs", c.train.epochs, 1);
  require_at_least("train.threads", c.train.threads, 0);
  require_at_least("train.log_every_steps", c.train.log_every_steps, 1);
  require_at_least("train.save_every_steps", c.train.save_every_steps, 0);
  require_at_least("train.keep_checkpoints", c.train.keep_checkpoints, 1);
  require_at_least("train.max_bad_steps", c.train.max_bad_steps, 1);
  if (c.train.out_dir.empty())
    invalid("train.out_dir", "is empty", "e.g. \"runs/dpo\"");
  if (c.train.device == DeviceChoice::cpu && c.train.dtype == TrainDtype::bf16_pure) {
    invalid(
        "train.dtype",
        "= bf16_pure needs train.device = cuda or auto",
        "use fp32 on CPU (bf16 matmuls are slow there and pure bf16 loses small updates)");
  }
  // eval
  require_at_least("eval.every_steps", c.eval.every_steps, 0);
  require_at_least("eval.max_pairs", c.eval.max_pairs, 0);
  require_at_least("eval.batch_pairs", c.eval.batch_pairs, 1);
  require_at_least("eval.patience", c.eval.patience, 1);
  require_non_negative("eval.gap_threshold", c.eval.gap_threshold);
  require_non_negative("eval.displacement_threshold", c.eval.displacement_threshold);
  require_fraction("eval.train_accuracy_high", c.eval.train_accuracy_high);
  require_non_negative("eval.min_improvement", c.eval.min_improvement);
  // distributed
  if (c.distributed.backend != "auto" && c.distributed.backend != "gloo" &&
      c.distributed.backend != "nccl") {
    invalid(
        "distributed.backend",
        "= \"" + c.distributed.backend + "\" is not one of auto, gloo, nccl",
        "auto picks nccl for CUDA and gloo for the CPU");
  }
  if (!(c.distributed.timeout_s > 0) || !std::isfinite(c.distributed.timeout_s))
    invalid("distributed.timeout_s", "must be > 0", "seconds; 300 by default");
  if (!(c.distributed.bucket_mib > 0) || !std::isfinite(c.distributed.bucket_mib))
    invalid("distributed.bucket_mib", "must be > 0", "MiB; 25 by default, as PyTorch's DDP");
  require_fraction("eval.saturated_accuracy", c.eval.saturated_accuracy);
  require_non_negative("eval.near_zero_loss", c.eval.near_zero_loss);
  require_non_negative("eval.min_loss_rise", c.eval.min_loss_rise);
  // check and compare
  require_at_least("check.steps", c.check.steps, 1);
  require_fraction("check.max_error_rate", c.check.max_error_rate);
  require_fraction("check.min_train_accuracy", c.check.min_train_accuracy);
  if (!(c.check.min_val_accuracy_margin >= 0 && c.check.min_val_accuracy_margin <= 0.5)) {
    invalid(
        "check.min_val_accuracy_margin",
        "must be in [0, 0.5]",
        "held-out accuracy must exceed 0.5 + this margin");
  }
  require_fraction("check.min_slice_accuracy", c.check.min_slice_accuracy);
  require_at_least("check.min_slice_pairs", c.check.min_slice_pairs, 1);
  require_non_negative("check.easy_margin", c.check.easy_margin);
  require_non_negative("check.ambiguous_margin", c.check.ambiguous_margin);
  require_fraction("check.max_easy_share", c.check.max_easy_share);
  require_fraction("check.max_ambiguous_share", c.check.max_ambiguous_share);
  for (const std::string& key : c.data.slice_by) {
    if (key.empty() || key == "metadata" || key == "metadata.")
      invalid(
          "data.slice_by", "holds an empty slice key", "e.g. [\"metadata.rubric\", \"source\"]");
  }
  require_at_least("compare.steps", c.compare.steps, 1);
  require_fraction("compare.max_accuracy_drop", c.compare.max_accuracy_drop);
  require_at_least("compare.noise_seeds", c.compare.noise_seeds, 0);
  require_non_negative("compare.noise_multiplier", c.compare.noise_multiplier);
  require_at_least("compare.max_error_increase", c.compare.max_error_increase, 0);
  require_fraction("compare.max_label_flip_fraction", c.compare.max_label_flip_fraction);
  require_non_negative("compare.slice_noise_multiplier", c.compare.slice_noise_multiplier);
  require_at_least("compare.min_slice_pairs", c.compare.min_slice_pairs, 1);
  // lora (checked whether enabled or not, so that a config is valid as shipped)
  validate_lora_section(c);
}

const char* lora_init_name(LoraInit init) {
  return name_of(kLoraInitNames, init);
}

Config load_config(const std::string& path, const std::vector<std::string>& overrides) {
  Config config = path.empty() ? Config{} : load_config_file(path);
  for (const auto& assignment : overrides)
    apply_override(config, assignment);
  validate_config(config);
  return config;
}

namespace {
Json to_json(const Config& config) {
  Writer writer;
  Config copy = config;  // the visitor takes mutable references
  visit_config(copy, writer);
  return writer.json;
}
}  // namespace

std::string to_json_text(const Config& config) {
  return to_json(config).dump(2) + "\n";
}

std::string config_hash(const Config& config) {
  return sha256_hex(to_json(config).dump());
}

std::vector<std::string> config_keys() {
  KeyLister lister;
  Config config;
  visit_config(config, lister);
  return lister.keys;
}

const char* schedule_kind_name(ScheduleKind kind) {
  return name_of(kScheduleNames, kind);
}
const char* device_choice_name(DeviceChoice device) {
  return name_of(kDeviceNames, device);
}
const char* train_dtype_name(TrainDtype dtype) {
  return name_of(kTrainDtypeNames, dtype);
}
std::string template_spec(const Config& config) {
  const std::string suffix = config.template_.name == "default" ? "" : "#" + config.template_.name;
  if (config.template_.source == "model")
    return suffix.empty() ? "" : config.model.path + suffix;
  return config.template_.source + suffix;
}

void apply_data_provenance(const DataSection& data, ProvenanceOptions& provenance) {
  provenance.slice_by = data.slice_by;
  provenance.reviewer_field = data.reviewer_field;
  provenance.judge_field = data.judge_field;
  provenance.timestamp_field = data.timestamp_field;
  provenance.max_age_days = data.max_age_days;
}

PrepareOptions prepare_options_from_config(
    const Config& config,
    const std::vector<std::string>& files,
    const std::string& model_dir,
    const std::string& out_path) {
  PrepareOptions prepare;
  prepare.files = files;
  prepare.model_dir = model_dir;
  prepare.template_spec = template_spec(config);
  prepare.max_length = config.data.max_length;
  prepare.length_policy = config.data.length_policy;
  prepare.bos_policy = config.data.add_bos;
  prepare.validate.format = config.data.format;
  prepare.validate.val_fraction = config.data.val_fraction;
  prepare.validate.seed = config.data.seed;
  apply_data_provenance(config.data, prepare.validate.provenance);
  prepare.out_path = out_path;
  return prepare;
}

const char* model_dtype_name(ModelDtype dtype) {
  return name_of(kModelDtypeNames, dtype);
}
const char* reference_mode_name(ReferenceMode mode) {
  return name_of(kReferenceModeNames, mode);
}

}  // namespace dpo
