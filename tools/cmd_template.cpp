// dpo template render|show|list : render a conversation with a chat template exactly as the
// data preparation will (the bytes, nothing added), show a template with its origin and
// SHA-256, list the built-in templates.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "templates/chat_template.h"
#include "tokenizer/hf_tokenizer_config.h"
#include "tools/commands.h"

namespace dpo {

namespace {

struct TemplateFlags {
  std::string template_spec;
  std::string messages_path;
  bool add_generation_prompt = false;
  std::string bos;
  std::string eos;
  std::string special_tokens_from;
  std::string show_spec;
  CLI::App* render = nullptr;
  CLI::App* show = nullptr;
  CLI::App* list = nullptr;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw IoError(errno_message("cannot open '" + path + "'", errno));
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

// A JSON array of {"role", "content"} objects, or an object with such a "messages" array.
std::vector<Message> read_messages(const std::string& path) {
  nlohmann::json document;
  try {
    document = nlohmann::json::parse(read_file(path));
  } catch (const nlohmann::json::parse_error& e) {
    throw DataError("'" + path + "' is not valid JSON: " + e.what());
  }
  const nlohmann::json& list =
      document.is_object() && document.contains("messages") ? document["messages"] : document;
  if (!list.is_array()) {
    throw DataError(
        "'" + path + "' must hold a JSON array of messages",
        "write [{\"role\": \"user\", \"content\": \"...\"}, ...] or {\"messages\": [...]}");
  }
  std::vector<Message> messages;
  for (size_t i = 0; i < list.size(); ++i) {
    const nlohmann::json& m = list[i];
    std::string where = "'" + path + "': messages[" + std::to_string(i) + "]";
    if (!m.is_object() || !m.contains("role") || !m["role"].is_string()) {
      throw DataError(where + " needs a string \"role\"");
    }
    if (!m.contains("content") || !m["content"].is_string()) {
      throw DataError(
          where + " needs a string \"content\"",
          "content given as a list of parts is not supported");
    }
    messages.push_back(Message{m["role"].get<std::string>(), m["content"].get<std::string>()});
  }
  return messages;
}

ChatTemplateVariables variables_from(const TemplateFlags& flags) {
  ChatTemplateVariables variables;
  if (!flags.special_tokens_from.empty()) {
    HfTokenizerConfig config = read_hf_tokenizer_config(flags.special_tokens_from);
    if (config.bos_token)
      variables.bos_token = config.bos_token->content;
    if (config.eos_token)
      variables.eos_token = config.eos_token->content;
    if (config.unk_token)
      variables.unk_token = config.unk_token->content;
    if (config.pad_token)
      variables.pad_token = config.pad_token->content;
  }
  if (!flags.bos.empty())
    variables.bos_token = flags.bos;
  if (!flags.eos.empty())
    variables.eos_token = flags.eos;
  return variables;
}

int run_render(const TemplateFlags& flags) {
  std::string spec = flags.template_spec;
  if (spec.empty())
    spec = flags.special_tokens_from;
  if (spec.empty())
    throw UsageError("--template is required (or --special-tokens-from a model folder)");
  ChatTemplate chat = ChatTemplate::load(spec);
  std::string text = chat.render(
      read_messages(flags.messages_path), flags.add_generation_prompt, variables_from(flags));
  std::fwrite(text.data(), 1, text.size(), stdout);
  return kExitOk;
}

int run_show(const TemplateFlags& flags) {
  ChatTemplate chat = ChatTemplate::load(flags.show_spec);
  std::printf("origin: %s\nsha256: %s\n\n", chat.origin().c_str(), chat.sha256().c_str());
  std::fwrite(chat.text().data(), 1, chat.text().size(), stdout);
  if (chat.text().empty() || chat.text().back() != '\n')
    std::fputs("\n", stdout);
  return kExitOk;
}

int run_list() {
  for (const std::string& name : ChatTemplate::builtin_names()) {
    ChatTemplate chat = ChatTemplate::load(name);
    std::printf("%-10s sha256:%s\n", name.c_str(), chat.sha256().substr(0, 16).c_str());
  }
  return kExitOk;
}

}  // namespace

Command add_template_command(CLI::App& dpo) {
  auto flags = std::make_shared<TemplateFlags>();
  CLI::App* app = dpo.add_subcommand(
      "template",
      "Chat templates: render a conversation exactly as data preparation will, show a template "
      "with its origin and SHA-256, list the built-ins (docs/chat-templates.md).");
  app->require_subcommand(1);

  flags->render = app->add_subcommand(
      "render", "Print the rendering of a conversation: the exact bytes, no newline added.");
  flags->render->add_option(
      "--template",
      flags->template_spec,
      "Built-in name, .jinja file, model folder or tokenizer_config.json "
      "(add #name to pick a named template)");
  flags->render
      ->add_option(
          "--messages", flags->messages_path, "JSON file: [{\"role\": ..., \"content\": ...}, ...]")
      ->required();
  flags->render->add_flag(
      "--add-generation-prompt",
      flags->add_generation_prompt,
      "End with the assistant header, as for a prompt");
  flags->render->add_option(
      "--bos", flags->bos, "bos_token value (overrides --special-tokens-from)");
  flags->render->add_option(
      "--eos", flags->eos, "eos_token value (overrides --special-tokens-from)");
  flags->render->add_option(
      "--special-tokens-from",
      flags->special_tokens_from,
      "Model folder whose tokenizer_config.json gives bos/eos/unk/pad tokens");

  flags->show = app->add_subcommand("show", "Print a template's origin, SHA-256 and text.");
  flags->show
      ->add_option(
          "template", flags->show_spec, "Built-in name, .jinja file, model folder or config")
      ->required();

  flags->list = app->add_subcommand("list", "List the built-in templates with their SHA-256.");

  return Command{app, [flags]() {
                   if (flags->render->parsed())
                     return run_render(*flags);
                   if (flags->show->parsed())
                     return run_show(*flags);
                   return run_list();
                 }};
}

}  // namespace dpo
