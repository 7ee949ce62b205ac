// Chat templates: loading from built-ins, files and model folders, and rendering a
// conversation with transformers' variables (see chat_template.h).
#include "templates/chat_template.h"

#include <limits>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/file_io.h"
#include "core/hash.h"
#include "core/json_file.h"
#include "core/text.h"
#include "templates/jinja/embedded_templates.h"
#include "templates/jinja/template.h"
#include "templates/model_chat_templates.h"

namespace dpo {

namespace {

using jinja::CallArgs;
using jinja::Value;

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string builtin_list() {
  std::string names;
  for (const std::string& name : ChatTemplate::builtin_names()) {
    names += (names.empty() ? "" : ", ") + name;
  }
  return names;
}

// The template named `name` of a model folder or tokenizer_config.json (`where`).
ChatTemplate from_model_templates(
    const ModelChatTemplates& templates, const std::string& where, const std::string& name) {
  const NamedChatTemplate* chosen = templates.find(name);
  if (chosen == nullptr) {
    std::string available;
    for (const NamedChatTemplate& t : templates.templates) {
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
  std::string source = templates.source.empty() ? where : templates.source;
  std::string origin = ends_with(source, ".jinja") ? source : source + "#" + chosen->name;
  return ChatTemplate(chosen->text, origin);
}

// A JSON value as the template sees what Python's json.loads returns: dicts keep their order.
Value to_template_value(const nlohmann::ordered_json& j) {
  switch (j.type()) {
    case nlohmann::ordered_json::value_t::null:
      return Value::none();
    case nlohmann::ordered_json::value_t::boolean:
      return Value::boolean(j.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer:
      return Value::integer(j.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned: {
      const uint64_t u = j.get<uint64_t>();
      if (u <= uint64_t(std::numeric_limits<int64_t>::max()))
        return Value::integer(static_cast<int64_t>(u));
      return Value::floating(static_cast<double>(u));  // beyond int64: this engine's ints
    }
    case nlohmann::ordered_json::value_t::number_float:
      return Value::floating(j.get<double>());
    case nlohmann::ordered_json::value_t::string:
      return Value::string(j.get<std::string>());
    case nlohmann::ordered_json::value_t::array: {
      jinja::ValueList items;
      items.reserve(j.size());
      for (const auto& item : j)
        items.push_back(to_template_value(item));
      return Value::list(std::move(items));
    }
    case nlohmann::ordered_json::value_t::object: {
      Value dict = Value::dict();
      for (const auto& item : j.items())
        dict.dict_data().entries.emplace_back(
            Value::string(item.key()), to_template_value(item.value()));
      return dict;
    }
    default:
      break;
  }
  return Value::none();  // binary and discarded values do not come out of the parser
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
  if (hash != std::string::npos && !is_regular_file(spec) && !is_directory(spec)) {
    path = spec.substr(0, hash);
    name = spec.substr(hash + 1);
    if (name.empty())
      throw ConfigError("'" + spec + "': empty template name after '#'");
  }
  if (is_directory(path)) {
    if (!is_regular_file(path + "/tokenizer_config.json") &&
        !is_regular_file(path + "/chat_template.jinja") &&
        !is_regular_file(path + "/chat_template.json")) {
      throw IoError(
          "'" + printable(path) + "' has no tokenizer_config.json",
          "pass the folder of a Hugging Face model (with tokenizer_config.json and "
          "tokenizer.model), or give --tokenizer and --template instead");
    }
    return from_model_templates(read_model_chat_templates(path), path, name);
  }
  if (is_regular_file(path)) {
    if (ends_with(path, ".json")) {
      ModelChatTemplates templates =
          parse_tokenizer_config_chat_templates(read_file(path, "tokenizer config"), path);
      templates.source = path;
      return from_model_templates(templates, path, name);
    }
    if (name != "default" && hash != std::string::npos) {
      throw ConfigError(
          "'" + spec + "': '#<name>' selects a template of a tokenizer_config.json",
          "pass the .jinja file without '#'");
    }
    return ChatTemplate(read_file(path, "chat template"), path);
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
  const std::string problem = describe_path_problem(path, PathKind::regular_file);
  if (problem != "does not exist") {
    throw IoError(
        "chat template '" + printable(path) + "' " + problem,
        "pass a .jinja file, a model folder or a built-in (" + builtin_list() + ")");
  }
  throw IoError(
      "chat template '" + printable(spec) + "' not found (no such file or folder)",
      "check the path; built-ins are: " + builtin_list());
}

namespace {

// A JSON text given by the caller as a template value; `what` names it in the error.
Value json_text_value(const std::string& text, const std::string& what) {
  return to_template_value(
      parse_ordered_json(text, JsonSource(what + " is not valid JSON", JsonErrorKind::data)));
}

// Renders with what transformers passes: messages, tools (None unless given), documents=None,
// add_generation_prompt, the special tokens that are set, any extra keyword arguments, and the
// environment globals raise_exception and strftime_now.
std::string render_values(
    const jinja::Template& compiled,
    Value messages,
    bool add_generation_prompt,
    const ChatTemplateVariables& variables) {
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
  globals.emplace_back("messages", std::move(messages));
  globals.emplace_back(
      "tools",
      variables.tools_json.empty() ? Value::none()
                                   : json_text_value(variables.tools_json, "tools"));
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
  if (!variables.kwargs_json.empty()) {
    Value kwargs = json_text_value(variables.kwargs_json, "template keyword arguments");
    if (!kwargs.is_dict()) {
      throw DataError(
          "template keyword arguments should be a JSON object, got: " + variables.kwargs_json,
          "pass {\"name\": value, ...}");
    }
    for (const auto& [key, value] : kwargs.dict_data().entries)
      globals.emplace_back(key.str(), value);
  }
  return compiled.render(globals);
}

}  // namespace

std::string ChatTemplate::render(
    const std::vector<Message>& messages,
    bool add_generation_prompt,
    const ChatTemplateVariables& variables) const {
  jinja::ValueList list;
  list.reserve(messages.size());
  for (size_t i = 0; i < messages.size(); ++i) {
    const Message& message = messages[i];
    Value dict = Value::dict();
    dict.dict_data().entries.emplace_back(Value::string("role"), Value::string(message.role));
    if (message.tool_calls_json.empty()) {
      dict.dict_data().entries.emplace_back(
          Value::string("content"), Value::string(message.content));
    } else {
      // A tool-calling turn: content None when it has none, as the row (and transformers) has
      // it, so that `message.content is none` and `if message.content` work as in Python.
      dict.dict_data().entries.emplace_back(
          Value::string("content"),
          message.content.empty() ? Value::none() : Value::string(message.content));
      dict.dict_data().entries.emplace_back(
          Value::string("tool_calls"),
          json_text_value(
              message.tool_calls_json, "messages[" + std::to_string(i) + "].tool_calls"));
    }
    list.push_back(dict);
  }
  return render_values(*template_, Value::list(std::move(list)), add_generation_prompt, variables);
}

std::string ChatTemplate::render_json(
    const std::string& messages_json,
    bool add_generation_prompt,
    const ChatTemplateVariables& variables) const {
  Value messages = json_text_value(messages_json, "messages");
  if (!messages.is_sequence()) {
    throw DataError(
        "messages should be a JSON list of message objects", "pass [{\"role\": ..., ...}, ...]");
  }
  return render_values(*template_, std::move(messages), add_generation_prompt, variables);
}

std::string ChatTemplate::sha256() const {
  return sha256_hex(text_);
}

}  // namespace dpo
