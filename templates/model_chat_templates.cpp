#include "templates/model_chat_templates.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/file_io.h"
#include "core/json_file.h"

namespace dpo {
namespace {

using nlohmann::json;

// `chat_template`: a string or a list of {"name": ..., "template": ...}.
std::vector<NamedChatTemplate> parse_templates(const json& value, const std::string& file) {
  const std::string key = "chat_template";
  std::vector<NamedChatTemplate> templates;
  if (value.is_null())
    return templates;
  if (value.is_string()) {
    templates.push_back({"default", value.get<std::string>()});
    return templates;
  }
  if (!value.is_array()) {
    throw ConfigError(
        "'" + file + "': `" + key + "` should be a string or a list of named templates, found " +
            std::string(value.type_name()),
        "fix the value or remove the key");
  }
  for (size_t i = 0; i < value.size(); ++i) {
    const json& entry = value[i];
    std::string where = key + "[" + std::to_string(i) + "]";
    if (!entry.is_object() || !entry.contains("name") || !entry.contains("template") ||
        !entry["name"].is_string() || !entry["template"].is_string()) {
      throw ConfigError(
          "'" + file + "': `" + where + "` should be {\"name\": ..., \"template\": ...}",
          "fix the entry or remove it");
    }
    templates.push_back({entry["name"].get<std::string>(), entry["template"].get<std::string>()});
  }
  return templates;
}

}  // namespace

const NamedChatTemplate* ModelChatTemplates::find(const std::string& name) const {
  for (const NamedChatTemplate& entry : templates) {
    if (entry.name == name)
      return &entry;
  }
  if (name == "default" && templates.size() == 1)
    return &templates.front();
  return nullptr;
}

ModelChatTemplates parse_tokenizer_config_chat_templates(
    const std::string& tokenizer_config_json, const std::string& file) {
  json root = parse_json_file_text(tokenizer_config_json, file);
  if (!root.is_object()) {
    throw ConfigError(
        "'" + file + "' should hold a JSON object", "pass the folder of a Hugging Face model");
  }
  ModelChatTemplates out;
  if (auto it = root.find("chat_template"); it != root.end()) {
    out.templates = parse_templates(*it, file);
    if (!out.templates.empty())
      out.source = file;
  }
  return out;
}

ModelChatTemplates read_model_chat_templates(const std::string& folder) {
  // Recent transformers save the template beside the config; it wins over the config's copy.
  const std::string jinja_file = folder + "/chat_template.jinja";
  const std::string json_file = folder + "/chat_template.json";
  const std::string config_file = folder + "/tokenizer_config.json";
  ModelChatTemplates out;
  if (is_regular_file(jinja_file)) {
    out.templates = {{"default", read_file(jinja_file, "chat template")}};
    out.source = jinja_file;
  } else if (is_regular_file(json_file)) {
    json root = parse_json_file_text(read_file(json_file, "chat template"), json_file);
    if (!root.is_object() || !root.contains("chat_template")) {
      throw ConfigError("'" + json_file + "' lacks `chat_template`", "fix or delete the file");
    }
    out.templates = parse_templates(root["chat_template"], json_file);
    out.source = json_file;
  } else if (is_regular_file(config_file)) {
    out = parse_tokenizer_config_chat_templates(
        read_file(config_file, "tokenizer config"), config_file);
  }
  return out;
}

}  // namespace dpo
