// The chat templates a Hugging Face model folder declares, read as transformers reads them:
// chat_template.jinja beside the config wins, then chat_template.json, then the
// `chat_template` key of tokenizer_config.json (a string, or a list of {name, template}).
// The JSON library stays inside model_chat_templates.cpp.
#pragma once

#include <string>
#include <vector>

namespace dpo {

struct NamedChatTemplate {
  std::string name;  // "default" for a plain string
  std::string text;  // the Jinja source, verbatim
};

struct ModelChatTemplates {
  std::vector<NamedChatTemplate> templates;  // empty when the model has none
  std::string source;                        // the file they came from

  // The template named `name` ("default" also matches a sole unnamed template); nullptr when
  // absent.
  const NamedChatTemplate* find(const std::string& name = "default") const;
};

// Reads the templates of a model folder. A folder without tokenizer_config.json,
// chat_template.jinja or chat_template.json has none (no error). Throws ConfigError naming the
// file and key when a file is malformed, IoError when one cannot be read.
ModelChatTemplates read_model_chat_templates(const std::string& folder);

// The `chat_template` key of a tokenizer_config.json text; `file` is used in messages.
ModelChatTemplates parse_tokenizer_config_chat_templates(
    const std::string& tokenizer_config_json, const std::string& file);

}  // namespace dpo
