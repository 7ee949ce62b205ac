// Chat templates: loading from built-ins, files and model folders, and rendering a
// conversation with transformers' variables (see chat_template.h).
#include "dataloader/chat_template.h"

#include <sys/stat.h>

#include <cerrno>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/hash.h"
#include "dataloader/hf_tokenizer_config.h"
#include "dataloader/jinja/embedded_templates.h"
#include "dataloader/jinja/template.h"

namespace dpo {

namespace {

using jinja::CallArgs;
using jinja::Value;

bool is_directory(const std::string& path) {
  struct stat info;
  return stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
}

bool is_file(const std::string& path) {
  struct stat info;
  return stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode);
}

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw IoError(errno_message("cannot open chat template '" + path + "'", errno));
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

std::string builtin_list() {
  std::string names;
  for (const std::string& name : ChatTemplate::builtin_names()) {
    names += (names.empty() ? "" : ", ") + name;
  }
  return names;
}

// The template named `name` of a tokenizer config (a model folder or the config file itself).
ChatTemplate from_tokenizer_config(
    const HfTokenizerConfig& config, const std::string& where, const std::string& name) {
  const HfChatTemplate* chosen = config.chat_template(name);
  if (chosen == nullptr) {
    std::string available;
    for (const HfChatTemplate& t : config.chat_templates) {
      available += (available.empty() ? "" : ", ") + t.name;
    }
    if (available.empty()) {
      throw ConfigError(
          "'" + where + "' has no chat_template",
          "pass a template explicitly: a built-in (" + builtin_list() + ") or a .jinja file");
    }
    throw ConfigError(
        "'" + where + "' has no chat template named '" + name + "' (it has: " + available + ")",
        "select one with '" + where + "#<name>'");
  }
  std::string source = config.chat_template_source.empty() ? where : config.chat_template_source;
  std::string origin = ends_with(source, ".jinja") ? source : source + "#" + chosen->name;
  return ChatTemplate(chosen->text, origin);
}

}  // namespace

ChatTemplate::ChatTemplate(std::string text, std::string origin)
    : text_(std::move(text)), origin_(std::move(origin)) {
  template_ = std::make_shared<const jinja::Template>(text_, origin_);
}

std::vector<std::string> ChatTemplate::builtin_names() {
  std::vector<std::string> names;
  for (size_t i = 0; i < jinja::kEmbeddedTemplateCount; ++i) {
    names.push_back(jinja::kEmbeddedTemplates[i].name);
  }
  return names;
}

ChatTemplate ChatTemplate::load(const std::string& spec) {
  if (spec.empty())
    throw ConfigError("empty chat template name", "pass a built-in name or a path");
  // "path#name" selects a named template of a tokenizer config, unless the whole spec exists.
  std::string path = spec;
  std::string name = "default";
  size_t hash = spec.rfind('#');
  if (hash != std::string::npos && !is_file(spec) && !is_directory(spec)) {
    path = spec.substr(0, hash);
    name = spec.substr(hash + 1);
    if (name.empty())
      throw ConfigError("'" + spec + "': empty template name after '#'");
  }
  if (is_directory(path)) {
    return from_tokenizer_config(read_hf_tokenizer_config(path), path, name);
  }
  if (is_file(path)) {
    if (ends_with(path, ".json")) {
      std::string folder =
          path.find('/') == std::string::npos ? "." : path.substr(0, path.rfind('/'));
      HfTokenizerConfig config = parse_hf_tokenizer_config(folder, read_text_file(path), "");
      config.chat_template_source = path;
      return from_tokenizer_config(config, path, name);
    }
    if (name != "default" && hash != std::string::npos) {
      throw ConfigError(
          "'" + spec + "': '#<name>' selects a template of a tokenizer_config.json",
          "pass the .jinja file without '#'");
    }
    return ChatTemplate(read_text_file(path), path);
  }
  if (spec.find('/') == std::string::npos && !ends_with(spec, ".jinja") &&
      !ends_with(spec, ".json")) {
    for (size_t i = 0; i < jinja::kEmbeddedTemplateCount; ++i) {
      const jinja::EmbeddedTemplate& t = jinja::kEmbeddedTemplates[i];
      if (spec == t.name)
        return ChatTemplate(std::string(t.text, t.size), "builtin:" + spec);
    }
    throw ConfigError(
        "unknown chat template '" + spec + "'",
        "use a built-in (" + builtin_list() +
            "), a .jinja file, a model folder or a tokenizer_config.json");
  }
  throw IoError(
      "chat template '" + spec + "' not found (no such file or folder)",
      "check the path; built-ins are: " + builtin_list());
}

std::string ChatTemplate::render(
    const std::vector<Message>& messages,
    bool add_generation_prompt,
    const ChatTemplateVariables& variables) const {
  jinja::ValueList list;
  list.reserve(messages.size());
  for (const Message& message : messages) {
    Value dict = Value::dict();
    dict.dict_data().entries.emplace_back(Value::string("role"), Value::string(message.role));
    dict.dict_data().entries.emplace_back(Value::string("content"), Value::string(message.content));
    list.push_back(dict);
  }
  // What transformers passes: messages, tools=None, documents=None, add_generation_prompt, the
  // special tokens that are set, and the environment globals raise_exception and strftime_now.
  jinja::Globals globals;
  globals.emplace_back(
      "raise_exception", Value::function("raise_exception", [](const CallArgs& args) -> Value {
        std::string message = args.positional.empty() ? "" : args.positional[0].to_str();
        throw jinja::RenderError(jinja::RenderError::Kind::raised, message);
      }));
  std::optional<std::tm> fixed_now = variables.now;
  globals.emplace_back(
      "strftime_now", Value::function("strftime_now", [fixed_now](const CallArgs& args) {
        if (args.positional.size() != 1 || !args.positional[0].is_string()) {
          jinja::throw_type_error("strftime_now(format) takes one string");
        }
        std::tm when{};
        if (fixed_now) {
          when = *fixed_now;
        } else {
          std::time_t now = std::time(nullptr);
          localtime_r(&now, &when);
        }
        char buffer[512];
        size_t n = std::strftime(buffer, sizeof buffer, args.positional[0].str().c_str(), &when);
        return Value::string(std::string(buffer, n));
      }));
  globals.emplace_back("messages", Value::list(std::move(list)));
  globals.emplace_back("tools", Value::none());
  globals.emplace_back("documents", Value::none());
  globals.emplace_back("add_generation_prompt", Value::boolean(add_generation_prompt));
  auto token = [&](const char* name, const std::string& value) {
    if (!value.empty())
      globals.emplace_back(name, Value::string(value));
  };
  token("bos_token", variables.bos_token);
  token("eos_token", variables.eos_token);
  token("unk_token", variables.unk_token);
  token("pad_token", variables.pad_token);
  for (const auto& entry : variables.extra)
    globals.emplace_back(entry.first, Value::string(entry.second));
  return template_->render(globals);
}

std::string ChatTemplate::sha256() const {
  return sha256_hex(text_);
}

}  // namespace dpo
