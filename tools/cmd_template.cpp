// dpo template render|show|list : render a conversation with a chat template exactly as the
// data preparation will (the bytes, nothing added), show a template with its origin and
// SHA-256, list the built-in templates.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>

#include "core/error.h"
#include "core/file_io.h"
#include "data/row_parser.h"
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

// The conversation to render, read by the data library exactly as training rows' messages are
// (role aliases, list-of-parts content), so that the rendering matches data preparation.
std::vector<Message> read_messages(const std::string& path) {
  return parse_conversation(read_file(path, "messages file"), path);
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
