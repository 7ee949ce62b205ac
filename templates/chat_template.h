// Chat templates: turn a conversation into the exact text the model was trained on, by
// rendering the model's Jinja chat template as transformers' apply_chat_template does
// (templates/jinja/ is the engine). A template is pinned by the SHA-256 of its text.
#pragma once

#include <ctime>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/message.h"

namespace dpo {

namespace jinja {
class Template;
}

// Variables passed to the template besides `messages` and `add_generation_prompt`. An empty
// token is not passed at all (transformers leaves out special tokens a tokenizer lacks), so
// `bos_token is defined` is false and using it is an error.
struct ChatTemplateVariables {
  std::string bos_token, eos_token, unk_token, pad_token;
  std::map<std::string, std::string> extra;  // any other string variables (other *_token values)
  // `tools` as a JSON list of function schemas, as given to apply_chat_template(tools=...);
  // empty: tools=None.
  std::string tools_json;
  // Further template variables as a JSON object, as transformers passes apply_chat_template's
  // extra keyword arguments: {"enable_thinking": false}, {"date_string": "26 Jul 2024"}. Empty:
  // none. They are set after the special tokens and `extra` (a name given twice: this wins).
  std::string kwargs_json;
  // The time strftime_now(format) formats; unset: the local time at rendering. Tests fix it.
  std::optional<std::tm> now;
};

class ChatTemplate {
 public:
  // Parses `text` now. Throws ConfigError "origin:line:column: ..." on bad syntax, unknown tags,
  // filters or tests.
  ChatTemplate(std::string text, std::string origin);

  // `spec` is one of:
  //   - a built-in name (configs/templates/<name>.jinja, embedded in the binary): "chatml";
  //   - a path to a .jinja file (or any other text file holding a template);
  //   - a model folder (its chat_template.jinja or tokenizer_config.json, as transformers reads
  //     them) or a path to a tokenizer_config.json.
  // A config's `chat_template` is a string or a list of {name, template}; "default" is used
  // unless the spec ends with "#<name>" ("models/x#tool_use").
  // Throws IoError for unreadable files and ConfigError for a missing or invalid template.
  static ChatTemplate load(const std::string& spec);
  static std::vector<std::string> builtin_names();

  // Renders the conversation. Throws DataError "origin:line:column: ..." when the template
  // fails on it; the message of raise_exception(msg) is carried as "raise_exception: msg".
  std::string render(
      const std::vector<Message>& messages,
      bool add_generation_prompt,
      const ChatTemplateVariables& variables) const;

  // Renders messages given as a JSON list of message objects, passed to the template as
  // transformers passes them (every key kept, in order): for fields Message lacks, such as
  // `reasoning_content`, content None or a list of parts. Throws DataError when
  // `messages_json` is not a JSON list, and as render() when the template fails.
  std::string render_json(
      const std::string& messages_json,
      bool add_generation_prompt,
      const ChatTemplateVariables& variables) const;

  const std::string& text() const {
    return text_;
  }
  // Where the template came from: "builtin:chatml", a file path, or "<config>#<name>".
  const std::string& origin() const {
    return origin_;
  }
  std::string sha256() const;  // hex SHA-256 of text()

 private:
  std::string text_;
  std::string origin_;
  std::shared_ptr<const jinja::Template> template_;
};

}  // namespace dpo
