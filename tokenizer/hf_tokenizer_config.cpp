// Hugging Face tokenizer_config.json / special_tokens_map.json reading (see
// hf_tokenizer_config.h). The only file of the tokenizer code that includes nlohmann/json.
#include "tokenizer/hf_tokenizer_config.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/file_io.h"
#include "core/json_file.h"
#include "core/text.h"

namespace dpo {
namespace {

using nlohmann::json;

[[noreturn]] void wrong_type(
    const std::string& file,
    const std::string& key,
    const std::string& expected,
    const json& value) {
  throw ConfigError(
      "'" + file + "': `" + key + "` should be " + expected + ", found " +
          std::string(value.type_name()),
      "fix the value or remove the key");
}

bool get_bool(
    const json& object,
    const char* key,
    bool fallback,
    const std::string& file,
    const std::string& path) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null())
    return fallback;
  if (!it->is_boolean())
    wrong_type(file, path.empty() ? key : path + "." + key, "a boolean", *it);
  return it->get<bool>();
}

// A special token given as a string or as an AddedToken object {"content": ...}.
HfAddedToken parse_token(const json& value, const std::string& file, const std::string& key) {
  HfAddedToken token;
  token.special = true;
  token.normalized = false;
  if (value.is_string()) {
    token.content = value.get<std::string>();
    return token;
  }
  if (!value.is_object())
    wrong_type(file, key, "a string or an object with `content`", value);
  auto content = value.find("content");
  if (content == value.end() || !content->is_string()) {
    throw ConfigError(
        "'" + file + "': `" + key + "` lacks a string `content`",
        "write the token as \"<s>\" or {\"content\": \"<s>\", ...}");
  }
  token.content = content->get<std::string>();
  token.lstrip = get_bool(value, "lstrip", false, file, key);
  token.rstrip = get_bool(value, "rstrip", false, file, key);
  token.single_word = get_bool(value, "single_word", false, file, key);
  token.normalized = get_bool(value, "normalized", token.normalized, file, key);
  token.special = get_bool(value, "special", true, file, key);
  return token;
}

// Reads the role tokens and additional_special_tokens of one file (later files override).
void read_special_tokens(const json& root, const std::string& file, HfTokenizerConfig& config) {
  const std::pair<const char*, std::optional<HfAddedToken>*> roles[] = {
      {"bos_token", &config.bos_token},
      {"eos_token", &config.eos_token},
      {"unk_token", &config.unk_token},
      {"pad_token", &config.pad_token},
  };
  for (const auto& [key, slot] : roles) {
    auto it = root.find(key);
    if (it == root.end())
      continue;
    if (it->is_null()) {
      slot->reset();
      continue;
    }
    *slot = parse_token(*it, file, key);
  }
  auto extra = root.find("additional_special_tokens");
  if (extra != root.end() && !extra->is_null()) {
    if (!extra->is_array())
      wrong_type(file, "additional_special_tokens", "a list", *extra);
    config.additional_special_tokens.clear();
    for (size_t i = 0; i < extra->size(); ++i) {
      config.additional_special_tokens.push_back(
          parse_token((*extra)[i], file, "additional_special_tokens[" + std::to_string(i) + "]"));
    }
  }
}

void read_added_tokens(const json& root, const std::string& file, HfTokenizerConfig& config) {
  auto decoder = root.find("added_tokens_decoder");
  if (decoder == root.end() || decoder->is_null())
    return;
  if (!decoder->is_object())
    wrong_type(file, "added_tokens_decoder", "an object", *decoder);
  for (auto it = decoder->begin(); it != decoder->end(); ++it) {
    std::string key = "added_tokens_decoder." + it.key();
    char* end = nullptr;
    errno = 0;
    long id = std::strtol(it.key().c_str(), &end, 10);
    if (it.key().empty() || *end != '\0' || errno != 0 || id < 0 || id > INT32_MAX) {
      throw ConfigError(
          "'" + file + "': `added_tokens_decoder` key '" + printable(it.key()) +
              "' is not a token id",
          "keys are decimal token ids such as \"32000\"");
    }
    if (!it.value().is_object())
      wrong_type(file, key, "an object", it.value());
    HfAddedToken token = parse_token(it.value(), file, key);
    // added_tokens_decoder entries default to special=false when the key is absent.
    token.special = get_bool(it.value(), "special", false, file, key);
    // AddedToken: `normalized` defaults to `not special`.
    token.normalized = get_bool(it.value(), "normalized", !token.special, file, key);
    token.id = static_cast<int>(id);
    config.added_tokens.push_back(std::move(token));
  }
  std::stable_sort(  // stable: a repeated id is reported in key order
      config.added_tokens.begin(),
      config.added_tokens.end(),
      [](const HfAddedToken& a, const HfAddedToken& b) { return a.id < b.id; });
  // "7" and "07" are different JSON keys but the same id: which token it is would be a guess.
  for (size_t i = 1; i < config.added_tokens.size(); ++i) {
    if (config.added_tokens[i].id == config.added_tokens[i - 1].id) {
      throw ConfigError(
          "'" + file + "': `added_tokens_decoder` names token id " +
              std::to_string(config.added_tokens[i].id) + " twice ('" +
              printable(config.added_tokens[i - 1].content) + "' and '" +
              printable(config.added_tokens[i].content) + "')",
          "keep one entry per id");
    }
  }
}

void read_options(const json& root, const std::string& file, HfTokenizerConfig& config) {
  if (auto it = root.find("tokenizer_class"); it != root.end() && it->is_string()) {
    config.tokenizer_class = it->get<std::string>();
  }
  if (auto it = root.find("add_bos_token"); it != root.end() && !it->is_null()) {
    if (!it->is_boolean())
      wrong_type(file, "add_bos_token", "a boolean", *it);
    config.add_bos_token = it->get<bool>();
  }
  if (auto it = root.find("add_eos_token"); it != root.end() && !it->is_null()) {
    if (!it->is_boolean())
      wrong_type(file, "add_eos_token", "a boolean", *it);
    config.add_eos_token = it->get<bool>();
  }
  if (auto it = root.find("legacy"); it != root.end() && !it->is_null()) {
    if (!it->is_boolean())
      wrong_type(file, "legacy", "a boolean", *it);
    config.legacy = it->get<bool>();
    config.legacy_given = true;
  }
  config.add_prefix_space = get_bool(root, "add_prefix_space", true, file, "");
  if (auto it = root.find("model_max_length"); it != root.end() && !it->is_null()) {
    if (!it->is_number())
      wrong_type(file, "model_max_length", "a number", *it);
    double value = it->get<double>();
    // transformers writes int(1e30) when a model declares no limit.
    if (value > 0 && value < 1e15)
      config.model_max_length = static_cast<int64_t>(value);
  }
}

}  // namespace

HfTokenizerConfig parse_hf_tokenizer_config(
    const std::string& folder,
    const std::string& tokenizer_config_json,
    const std::string& special_tokens_map_json) {
  HfTokenizerConfig config;
  config.folder = folder;
  std::string config_file = folder + "/tokenizer_config.json";
  json root = parse_json_file_text(tokenizer_config_json, config_file);
  if (!root.is_object()) {
    throw ConfigError(
        "'" + config_file + "' should hold a JSON object",
        "pass the folder of a Hugging Face model");
  }
  read_options(root, config_file, config);
  read_added_tokens(root, config_file, config);
  read_special_tokens(root, config_file, config);
  if (!special_tokens_map_json.empty()) {
    std::string map_file = folder + "/special_tokens_map.json";
    json map = parse_json_file_text(special_tokens_map_json, map_file);
    if (!map.is_object()) {
      throw ConfigError("'" + map_file + "' should hold a JSON object", "fix or delete the file");
    }
    read_special_tokens(map, map_file, config);
  }
  return config;
}

namespace {
constexpr const char* kModelFolderHint =
    "pass the folder of a Hugging Face model (with tokenizer_config.json and tokenizer.model), "
    "or give --tokenizer and --template instead";

// Throws the real reason a file the model folder must hold cannot be used: missing, a folder, a
// symlink loop, unreadable.
void require_model_file(
    const std::string& folder, const char* name, const char* role, const std::string& hint) {
  const std::string path = folder + "/" + name;
  const std::string problem = describe_path_problem(path, PathKind::regular_file);
  if (problem.empty())
    return;
  if (problem == "does not exist")
    throw IoError("'" + printable(folder) + "' has no " + name, hint);
  throw IoError(std::string(role) + " '" + printable(path) + "' " + problem, hint);
}
}  // namespace

HfTokenizerConfig read_hf_tokenizer_config(const std::string& folder) {
  require_directory(folder, "model folder", kModelFolderHint);
  require_model_file(folder, "tokenizer_config.json", "tokenizer config", kModelFolderHint);
  std::string config_file = folder + "/tokenizer_config.json";
  std::string map_file = folder + "/special_tokens_map.json";
  // special_tokens_map.json is optional, but one that exists and cannot be read is an error.
  const std::string map_problem = describe_path_problem(map_file, PathKind::regular_file);
  if (!map_problem.empty() && map_problem != "does not exist") {
    throw IoError(
        "special tokens map '" + printable(map_file) + "' " + map_problem,
        "fix or delete the file");
  }
  HfTokenizerConfig config = parse_hf_tokenizer_config(
      folder,
      read_file(config_file, "tokenizer config"),
      map_problem.empty() ? read_file(map_file, "special tokens map") : std::string());

  return config;
}

std::string find_tokenizer_model(const std::string& folder) {
  require_directory(folder, "model folder", kModelFolderHint);
  std::string path = folder + "/tokenizer.model";
  if (is_regular_file(path))
    return path;
  std::string hint = "a sentencepiece tokenizer was asked for and needs tokenizer.model";
  if (is_regular_file(folder + "/tokenizer.json")) {
    hint +=
        "; this folder has tokenizer.json instead: use the tokenizer format 'automatic' or "
        "'json'";
  }
  require_model_file(folder, "tokenizer.model", "tokenizer model", hint);
  throw IoError("'" + printable(folder) + "' has no tokenizer.model", hint);  // not reached
}

}  // namespace dpo
