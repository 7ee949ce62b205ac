#include "data/row_parser.h"

#include <simdjson.h>

#include <array>
#include <bitset>
#include <map>
#include <optional>

#include "core/error.h"
#include "core/json_file.h"
#include "core/text.h"
#include "data/hh_dialogue.h"
#include "data/record_reader.h"

namespace dpo {

static_assert(
    kRecordPadding >= simdjson::SIMDJSON_PADDING, "records must carry simdjson's padding");

namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

const char* json_type_name(element value) {
  switch (value.type()) {
    case element_type::OBJECT:
      return "an object";
    case element_type::ARRAY:
      return "an array";
    case element_type::STRING:
      return "a string";
    case element_type::INT64:
    case element_type::UINT64:
    case element_type::DOUBLE:
      return "a number";
    case element_type::BOOL:
      return "a boolean";
    case element_type::NULL_VALUE:
      return "null";
  }
  return "a value";
}

// The fields a row may carry. The first nine can be renamed with --fields.
enum Slot {
  kPrompt,
  kChosen,
  kRejected,
  kSystem,
  kId,
  kMetadata,
  kPreference,
  kStrength,
  kSplit,
  kConversations,
  kInput,
  kPreferredOutput,
  kNonPreferredOutput,
  kChosenMessages,
  kRejectedMessages,
  kSlotCount
};

struct Slots {
  std::array<element, kSlotCount> value;
  std::bitset<kSlotCount> present;
  bool has(Slot slot) const {
    return present[slot];
  }
};

// Collects row errors; `path` strings name the offending field like "chosen[0].content".
class Errors {
 public:
  explicit Errors(std::vector<RowError>& out) : out_(out), initial_(out.size()) {}
  void add(IssueCode code, std::string message) {
    out_.push_back(RowError{code, std::move(message)});
  }
  bool any() const {
    return out_.size() > initial_;
  }

 private:
  std::vector<RowError>& out_;
  size_t initial_;
};

void wrong_type(Errors& errors, const std::string& path, const char* expected, element value) {
  errors.add(
      IssueCode::wrong_type,
      "'" + path + "' must be " + expected + ", found " + json_type_name(value));
}

// Maps the role names of the supported formats onto system/user/assistant/tool.
bool normalize_role(std::string_view role, std::string& out) {
  static const std::pair<std::string_view, const char*> kRoles[] = {
      {"system", "system"},
      {"user", "user"},
      {"human", "user"},
      {"assistant", "assistant"},
      {"gpt", "assistant"},
      {"bot", "assistant"},
      {"model", "assistant"},
      {"function_call", "assistant"},
      {"tool", "tool"},
      {"function", "tool"},
      {"observation", "tool"},
      {"ipython", "tool"},
      {"developer", "system"},
  };
  for (const auto& [name, canonical] : kRoles) {
    if (role == name) {
      out = canonical;
      return true;
    }
  }
  return false;
}

// Content: a string, null (empty), or a list of text parts {type: "text", text|value: str}.
bool read_content(element value, const std::string& path, std::string& out, Errors& errors) {
  out.clear();
  std::string_view text;
  if (value.get_string().get(text) == simdjson::SUCCESS) {
    out.assign(text);
    return true;
  }
  if (value.is_null())
    return true;
  simdjson::dom::array parts;
  if (value.get_array().get(parts) != simdjson::SUCCESS) {
    wrong_type(errors, path, "a string or a list of text parts", value);
    return false;
  }
  size_t index = 0;
  for (element part : parts) {
    std::string part_path = path + "[" + std::to_string(index++) + "]";
    if (part.get_string().get(text) == simdjson::SUCCESS) {
      if (!out.empty())
        out += "\n";
      out.append(text);
      continue;
    }
    simdjson::dom::object part_object;
    if (part.get_object().get(part_object) != simdjson::SUCCESS) {
      wrong_type(errors, part_path, "an object {type, text}", part);
      return false;
    }
    std::string_view type = "text";
    element type_value;
    if (part_object["type"].get(type_value) == simdjson::SUCCESS &&
        type_value.get_string().get(type) != simdjson::SUCCESS) {
      wrong_type(errors, part_path + ".type", "a string", type_value);
      return false;
    }
    if (type != "text") {
      errors.add(
          IssueCode::wrong_type,
          "'" + part_path + "' is a content part of type '" + std::string(type) +
              "'; only text parts are supported");
      return false;
    }
    element part_text;
    if (part_object["text"].get(part_text) != simdjson::SUCCESS &&
        part_object["value"].get(part_text) != simdjson::SUCCESS) {
      errors.add(IssueCode::missing_field, "'" + part_path + "' has no 'text' field");
      return false;
    }
    if (part_text.get_string().get(text) != simdjson::SUCCESS) {
      wrong_type(errors, part_path + ".text", "a string", part_text);
      return false;
    }
    if (!out.empty())
      out += "\n";
    out.append(text);
  }
  return true;
}

// An assistant turn's tool_calls: a list of {"type": "function", "function": {"name": str,
// "arguments": str or object}} (OpenAI's and transformers' shape; "type" may be left out). Kept
// as compact JSON for the template.
bool read_tool_calls(element value, const std::string& path, Message& out, Errors& errors) {
  if (out.role != "assistant") {
    errors.add(
        IssueCode::bad_role_order,
        "'" + path + "' on a '" + out.role + "' turn; only assistant turns call tools");
    return false;
  }
  simdjson::dom::array calls;
  if (value.get_array().get(calls) != simdjson::SUCCESS) {
    wrong_type(errors, path, "a list of tool calls", value);
    return false;
  }
  size_t index = 0;
  for (element call : calls) {
    const std::string call_path = path + "[" + std::to_string(index++) + "]";
    simdjson::dom::object call_object;
    if (call.get_object().get(call_object) != simdjson::SUCCESS) {
      wrong_type(errors, call_path, "an object {type, function: {name, arguments}}", call);
      return false;
    }
    element type;
    std::string_view type_name;
    if (call_object["type"].get(type) == simdjson::SUCCESS &&
        (type.get_string().get(type_name) != simdjson::SUCCESS || type_name != "function")) {
      errors.add(
          IssueCode::invalid_value,
          "'" + call_path + ".type' must be \"function\", found " +
              excerpt_for_message(simdjson::minify(type), 30));
      return false;
    }
    element function;
    if (call_object["function"].get(function) != simdjson::SUCCESS) {
      errors.add(IssueCode::missing_field, "'" + call_path + "' has no 'function' field");
      return false;
    }
    if (!function.is_object()) {
      wrong_type(errors, call_path + ".function", "an object {name, arguments}", function);
      return false;
    }
    element name;
    if (function["name"].get(name) != simdjson::SUCCESS) {
      errors.add(IssueCode::missing_field, "'" + call_path + ".function' has no 'name' field");
      return false;
    }
    if (!name.is_string()) {
      wrong_type(errors, call_path + ".function.name", "a string", name);
      return false;
    }
    element arguments;
    if (function["arguments"].get(arguments) == simdjson::SUCCESS && !arguments.is_string() &&
        !arguments.is_object()) {
      wrong_type(errors, call_path + ".function.arguments", "a string or an object", arguments);
      return false;
    }
  }
  if (index == 0) {
    out.tool_calls_json.clear();  // [] is no call
    return true;
  }
  out.tool_calls_json = simdjson::minify(value);
  return true;
}

// A message: {role|from, content|value}, and on assistant turns an optional tool_calls list (the
// content may then be null or absent).
bool read_message(element value, const std::string& path, Message& out, Errors& errors) {
  simdjson::dom::object object;
  if (value.get_object().get(object) != simdjson::SUCCESS) {
    wrong_type(errors, path, "a message object {role, content}", value);
    return false;
  }
  element role_value;
  if (object["role"].get(role_value) != simdjson::SUCCESS &&
      object["from"].get(role_value) != simdjson::SUCCESS) {
    errors.add(IssueCode::missing_field, "'" + path + "' has no 'role' (or 'from') field");
    return false;
  }
  std::string_view role;
  if (role_value.get_string().get(role) != simdjson::SUCCESS) {
    wrong_type(errors, path + ".role", "a string", role_value);
    return false;
  }
  if (!normalize_role(role, out.role)) {
    errors.add(
        IssueCode::bad_role_order,
        "'" + path + ".role' is '" + excerpt_for_message(role, 30) +
            "', not one of system, user, assistant, tool (or human, gpt, observation)");
    return false;
  }
  element tool_calls;
  const bool has_tool_calls =
      object["tool_calls"].get(tool_calls) == simdjson::SUCCESS && !tool_calls.is_null();
  if (has_tool_calls && !read_tool_calls(tool_calls, path + ".tool_calls", out, errors))
    return false;
  element content_value;
  if (object["content"].get(content_value) != simdjson::SUCCESS &&
      object["value"].get(content_value) != simdjson::SUCCESS) {
    if (has_tool_calls) {
      out.content.clear();  // a turn that only calls tools
      return true;
    }
    errors.add(IssueCode::missing_field, "'" + path + "' has no 'content' (or 'value') field");
    return false;
  }
  return read_content(content_value, path + ".content", out.content, errors);
}

bool read_messages(
    element value, const std::string& path, std::vector<Message>& out, Errors& errors) {
  out.clear();
  simdjson::dom::array array;
  if (value.get_array().get(array) != simdjson::SUCCESS) {
    wrong_type(errors, path, "a list of messages", value);
    return false;
  }
  size_t index = 0;
  for (element item : array) {
    out.emplace_back();
    if (!read_message(item, path + "[" + std::to_string(index++) + "]", out.back(), errors)) {
      return false;
    }
  }
  return true;
}

// A prompt: a string (one user turn) or a list of messages.
bool read_prompt(
    element value, const std::string& path, std::vector<Message>& out, Errors& errors) {
  std::string_view text;
  if (value.get_string().get(text) == simdjson::SUCCESS) {
    out.assign(1, Message{"user", std::string(text)});
    return true;
  }
  if (value.is_array())
    return read_messages(value, path, out, errors);
  wrong_type(errors, path, "a string or a list of messages", value);
  return false;
}

// A completion: a string (one assistant turn), one message object, or a list of messages.
bool read_completion(
    element value, const std::string& path, std::vector<Message>& out, Errors& errors) {
  std::string_view text;
  if (value.get_string().get(text) == simdjson::SUCCESS) {
    out.assign(1, Message{"assistant", std::string(text)});
    return true;
  }
  if (value.is_object()) {
    out.assign(1, Message{});
    return read_message(value, path, out[0], errors);
  }
  if (value.is_array())
    return read_messages(value, path, out, errors);
  wrong_type(errors, path, "a string, a message or a list of messages", value);
  return false;
}

bool same_messages(
    const std::vector<Message>& a,
    size_t a_begin,
    const std::vector<Message>& b,
    size_t b_begin,
    size_t count) {
  if (a.size() < a_begin + count || b.size() < b_begin + count)
    return false;
  for (size_t i = 0; i < count; ++i) {
    const Message& x = a[a_begin + i];
    const Message& y = b[b_begin + i];
    if (x.role != y.role || trim_whitespace(x.content) != trim_whitespace(y.content) ||
        x.tool_calls_json != y.tool_calls_json) {
      return false;
    }
  }
  return true;
}

// Index one past the last non-assistant message: the conversation before the final answer.
size_t answer_start(const std::vector<Message>& conversation) {
  size_t start = conversation.size();
  while (start > 0 && conversation[start - 1].role == "assistant")
    --start;
  return start;
}

// Some exports (UltraFeedback binarized) put the whole conversation in chosen/rejected next to
// a prompt. When a completion starts with a non-assistant turn, the turns before its final
// answer must repeat the prompt; they are then dropped.
void detach_repeated_prompt(
    const std::vector<Message>& prompt,
    std::vector<Message>& completion,
    const char* name,
    Errors& errors) {
  if (completion.empty() || completion[0].role == "assistant")
    return;
  size_t start = answer_start(completion);
  // Without a final assistant answer it is not a conversation but a misplaced turn, which the
  // validator reports as bad_role_order.
  if (start == completion.size())
    return;
  size_t prompt_begin = 0;
  // The completion may omit the system message of the prompt.
  if (!prompt.empty() && prompt[0].role == "system" && completion[0].role != "system") {
    prompt_begin = 1;
  }
  if (start != prompt.size() - prompt_begin ||
      !same_messages(prompt, prompt_begin, completion, 0, start)) {
    errors.add(
        IssueCode::prompt_mismatch,
        std::string("'") + name +
            "' holds a whole conversation whose turns before the answer "
            "differ from 'prompt'");
    return;
  }
  completion.erase(completion.begin(), completion.begin() + static_cast<long>(start));
}

// A prompt with turns must hold a user turn: a tool result, an assistant turn or a system message
// alone is not a question the answer responds to. (A prompt with no turn besides the system
// message is the validator's empty_prompt.)
void check_prompt_has_user_turn(const std::vector<Message>& prompt, Errors& errors) {
  std::string roles;
  for (const Message& message : prompt) {
    if (message.role == "user")
      return;
    roles += (roles.empty() ? "" : ", ") + message.role;
  }
  bool only_system = true;
  for (const Message& message : prompt)
    only_system = only_system && message.role == "system";
  if (only_system)
    return;
  errors.add(
      IssueCode::bad_role_order, "the prompt has no user turn (its turns are: " + roles + ")");
}

// Implicit prompt: split two whole conversations into the shared prompt and two answers.
bool split_implicit_prompt(
    std::vector<Message>& chosen,
    std::vector<Message>& rejected,
    std::vector<Message>& prompt,
    Errors& errors) {
  size_t chosen_start = answer_start(chosen);
  size_t rejected_start = answer_start(rejected);
  if (chosen_start == chosen.size() || rejected_start == rejected.size()) {
    errors.add(
        IssueCode::bad_role_order,
        std::string("the ") + (chosen_start == chosen.size() ? "chosen" : "rejected") +
            " conversation does not end with an assistant turn");
    return false;
  }
  if (chosen_start == 0) {
    errors.add(
        IssueCode::bad_role_order,
        "the chosen conversation has no turn before the answer, so there is no prompt");
    return false;
  }
  if (chosen_start != rejected_start || !same_messages(chosen, 0, rejected, 0, chosen_start)) {
    errors.add(
        IssueCode::prompt_mismatch,
        "chosen and rejected conversations differ before the final assistant turn");
    return false;
  }
  prompt.assign(chosen.begin(), chosen.begin() + static_cast<long>(chosen_start));
  chosen.erase(chosen.begin(), chosen.begin() + static_cast<long>(chosen_start));
  rejected.erase(rejected.begin(), rejected.begin() + static_cast<long>(rejected_start));
  return true;
}

// True when some object in `value` (at any depth) holds a key twice. simdjson keeps both
// fields, and a lookup would silently take one of them.
bool has_duplicate_key(element value) {
  simdjson::dom::array array;
  if (value.get_array().get(array) == simdjson::SUCCESS) {
    for (element item : array) {
      if (has_duplicate_key(item))
        return true;
    }
    return false;
  }
  simdjson::dom::object object;
  if (value.get_object().get(object) != simdjson::SUCCESS)
    return false;
  // Rows' objects are small: compare each key with the ones before it.
  constexpr size_t kInline = 16;
  std::string_view inline_keys[kInline];
  std::vector<std::string_view> more_keys;
  size_t count = 0;
  for (simdjson::dom::key_value_pair field : object) {
    for (size_t i = 0; i < count; ++i) {
      if ((i < kInline ? inline_keys[i] : more_keys[i - kInline]) == field.key)
        return true;
    }
    if (count < kInline)
      inline_keys[count] = field.key;
    else
      more_keys.push_back(field.key);
    ++count;
    if (has_duplicate_key(field.value))
      return true;
  }
  return false;
}

// The strict parser's account of what is wrong with `record` (which simdjson refused or found a
// duplicate key in): the real reason and the column (or line and column). `first_line` is the
// record's line in its file, 0 when unknown.
std::optional<JsonProblem> locate_problem(std::string_view record, uint64_t first_line) {
  JsonParseOptions options;
  options.max_depth = static_cast<int>(simdjson::DEFAULT_MAX_DEPTH);
  options.first_line = first_line == 0 ? 1 : first_line;
  options.column_only_when_one_line = true;
  options.skip_leading_bom = false;  // only the file's first bytes may be a BOM (the reader's)
  return find_json_problem(record, options);
}

std::string problem_text(const JsonProblem& problem, uint64_t first_line) {
  std::string text = problem.describe();
  if (first_line == 0 && !problem.column_only)
    text += " (lines counted from the record's first line)";
  return text;
}

// A record simdjson refused: invalid_utf8 for bytes or escapes that are not characters (lone
// surrogates included), invalid_json for the rest, with the reason and the place.
void report_unparsable(
    std::string_view record, uint64_t first_line, simdjson::error_code code, Errors& errors) {
  std::optional<JsonProblem> problem = locate_problem(record, first_line);
  if (!problem) {
    // The strict parser accepts what simdjson refused (a limit of simdjson's): its own words.
    if (code == simdjson::UTF8_ERROR) {
      errors.add(
          IssueCode::invalid_utf8,
          "invalid UTF-8 at byte " + std::to_string(first_invalid_utf8(record)) + " of the record");
    } else {
      errors.add(IssueCode::invalid_json, simdjson::error_message(code));
    }
    return;
  }
  const bool not_text = code == simdjson::UTF8_ERROR ||
                        problem->reason.find("surrogate") != std::string::npos ||
                        problem->reason.find("invalid UTF-8") != std::string::npos ||
                        problem->reason.find("not valid UTF-8") != std::string::npos;
  if (not_text) {
    errors.add(
        IssueCode::invalid_utf8,
        problem_text(*problem, first_line) + ", byte " + std::to_string(problem->offset) +
            " of the record");
  } else {
    errors.add(IssueCode::invalid_json, problem_text(*problem, first_line));
  }
}

}  // namespace

const char* data_format_name(DataFormat format) {
  switch (format) {
    case DataFormat::auto_detect:
      return "auto";
    case DataFormat::standard:
      return "standard";
    case DataFormat::conversational:
      return "conversational";
    case DataFormat::implicit_prompt:
      return "implicit";
    case DataFormat::sharegpt:
      return "sharegpt";
    case DataFormat::openai:
      return "openai";
  }
  return "?";
}

DataFormat parse_data_format(const std::string& name) {
  for (DataFormat format :
       {DataFormat::auto_detect,
        DataFormat::standard,
        DataFormat::conversational,
        DataFormat::implicit_prompt,
        DataFormat::sharegpt,
        DataFormat::openai}) {
    if (name == data_format_name(format))
      return format;
  }
  throw UsageError(
      "unknown data format '" + name + "'",
      "use one of auto, standard, conversational, implicit, sharegpt, openai");
}

FieldNames FieldNames::parse(const std::string& spec) {
  FieldNames names;
  std::map<std::string, std::string*> targets = {
      {"prompt", &names.prompt},
      {"chosen", &names.chosen},
      {"rejected", &names.rejected},
      {"system", &names.system},
      {"id", &names.id},
      {"metadata", &names.metadata},
      {"preference", &names.preference},
      {"strength", &names.strength},
      {"split", &names.split}};
  size_t begin = 0;
  while (begin < spec.size()) {
    size_t end = spec.find(',', begin);
    if (end == std::string::npos)
      end = spec.size();
    std::string entry = spec.substr(begin, end - begin);
    size_t equals = entry.find('=');
    if (equals == std::string::npos || equals == 0 || equals + 1 == entry.size()) {
      throw UsageError(
          "--fields entry '" + entry + "' is not of the form name=column",
          "for example --fields prompt=question,chosen=response_j,rejected=response_k");
    }
    std::string canonical = entry.substr(0, equals);
    auto target = targets.find(canonical);
    if (target == targets.end()) {
      throw UsageError(
          "--fields names an unknown field '" + canonical + "'",
          "known fields: prompt, chosen, rejected, system, id, metadata, preference, strength, "
          "split");
    }
    *target->second = entry.substr(equals + 1);
    begin = end + 1;
  }
  return names;
}

struct RowParser::Impl {
  simdjson::dom::parser parser;
  DataFormat format;
  std::array<std::string, kSlotCount> slot_names;

  Impl(DataFormat forced, const FieldNames& fields) : format(forced) {
    slot_names = {
        fields.prompt,
        fields.chosen,
        fields.rejected,
        fields.system,
        fields.id,
        fields.metadata,
        fields.preference,
        fields.strength,
        fields.split,
        "conversations",
        "input",
        "preferred_output",
        "non_preferred_output",
        "chosen_messages",
        "rejected_messages"};
  }

  void collect(simdjson::dom::object object, Slots& slots, PreferenceRow& row) const {
    for (simdjson::dom::key_value_pair field : object) {
      bool known = false;
      for (int slot = 0; slot < kSlotCount && !known; ++slot) {
        if (field.key == slot_names[slot]) {
          slots.value[slot] = field.value;
          slots.present[slot] = true;
          known = true;
        }
      }
      if (!known) {
        add_scalars(row.field_values, field.key, field.value, 0);
        // Arrays (a `messages` copy of the conversation) are no slice key: not kept.
        if (field.value.is_array() || field.value.is_null())
          continue;
        row.fields_json += row.fields_json.empty() ? "{\"" : ",\"";
        append_json_escaped(field.key, row.fields_json);
        row.fields_json += "\":";
        row.fields_json += simdjson::minify(field.value);
      }
    }
    if (!row.fields_json.empty())
      row.fields_json += '}';
  }

  // The scalars (string, number, boolean) of a field as text, by path: nested objects add
  // "parent.child" (up to kMaxFieldDepth levels); arrays and null are skipped.
  static constexpr int kMaxFieldDepth = 8;
  static void add_scalars(
      std::vector<std::pair<std::string, std::string>>& out,
      std::string_view path,
      simdjson::dom::element value,
      int depth) {
    std::string_view text;
    bool flag;
    simdjson::dom::object object;
    if (value.get_string().get(text) == simdjson::SUCCESS) {
      out.emplace_back(std::string(path), std::string(text));
    } else if (value.is_number()) {
      out.emplace_back(std::string(path), simdjson::minify(value));
    } else if (value.get_bool().get(flag) == simdjson::SUCCESS) {
      out.emplace_back(std::string(path), flag ? "true" : "false");
    } else if (depth + 1 < kMaxFieldDepth && value.get_object().get(object) == simdjson::SUCCESS) {
      for (simdjson::dom::key_value_pair child : object) {
        std::string child_path(path);
        child_path += '.';
        child_path += child.key;
        add_scalars(out, child_path, child.value, depth + 1);
      }
    }
  }

  DataFormat detect(const Slots& slots) const {
    if (slots.has(kConversations))
      return DataFormat::sharegpt;
    if (slots.has(kInput) && (slots.has(kPreferredOutput) || slots.has(kNonPreferredOutput))) {
      return DataFormat::openai;
    }
    if (slots.has(kPrompt)) {
      return slots.value[kPrompt].is_array() ? DataFormat::conversational : DataFormat::standard;
    }
    if (slots.has(kChosen) || slots.has(kRejected) || slots.has(kChosenMessages) ||
        slots.has(kRejectedMessages)) {
      return DataFormat::implicit_prompt;
    }
    return DataFormat::auto_detect;
  }

  // Names the missing slots; true when all are present.
  bool require(const Slots& slots, std::initializer_list<Slot> needed, Errors& errors) const {
    bool ok = true;
    for (Slot slot : needed) {
      if (!slots.has(slot)) {
        errors.add(
            IssueCode::missing_field,
            "missing field '" + slot_names[slot] + "' (the file's format is " +
                data_format_name(format) + ")");
        ok = false;
      }
    }
    return ok;
  }

  bool build_prompt_completion(const Slots& slots, PreferenceRow& row, Errors& errors) {
    if (!require(slots, {kPrompt, kChosen, kRejected}, errors))
      return false;
    bool ok = read_prompt(slots.value[kPrompt], slot_names[kPrompt], row.prompt, errors);
    ok = read_completion(slots.value[kChosen], slot_names[kChosen], row.chosen, errors) && ok;
    ok = read_completion(slots.value[kRejected], slot_names[kRejected], row.rejected, errors) && ok;
    if (!ok)
      return false;
    detach_repeated_prompt(row.prompt, row.chosen, "chosen", errors);
    detach_repeated_prompt(row.prompt, row.rejected, "rejected", errors);
    return !errors.any();
  }

  bool build_implicit(const Slots& slots, PreferenceRow& row, Errors& errors) {
    Slot chosen_slot = slots.has(kChosen) ? kChosen : kChosenMessages;
    Slot rejected_slot = slots.has(kRejected) ? kRejected : kRejectedMessages;
    if (!require(slots, {chosen_slot, rejected_slot}, errors))
      return false;
    element chosen = slots.value[chosen_slot];
    element rejected = slots.value[rejected_slot];
    std::string_view chosen_text, rejected_text;
    if (chosen.get_string().get(chosen_text) == simdjson::SUCCESS &&
        rejected.get_string().get(rejected_text) == simdjson::SUCCESS) {
      if (!parse_hh_dialogue(chosen_text, row.chosen) ||
          !parse_hh_dialogue(rejected_text, row.rejected)) {
        errors.add(
            IssueCode::missing_field,
            "missing field '" + slot_names[kPrompt] +
                "': chosen and rejected are plain strings without \"Human:\"/\"Assistant:\" "
                "turns, so no prompt can be extracted");
        return false;
      }
    } else {
      bool ok = read_messages(chosen, slot_names[chosen_slot], row.chosen, errors);
      ok = read_messages(rejected, slot_names[rejected_slot], row.rejected, errors) && ok;
      if (!ok)
        return false;
    }
    return split_implicit_prompt(row.chosen, row.rejected, row.prompt, errors);
  }

  bool build_sharegpt(const Slots& slots, PreferenceRow& row, Errors& errors) {
    if (!require(slots, {kConversations, kChosen, kRejected}, errors))
      return false;
    bool ok = read_messages(slots.value[kConversations], "conversations", row.prompt, errors);
    ok = read_completion(slots.value[kChosen], slot_names[kChosen], row.chosen, errors) && ok;
    ok = read_completion(slots.value[kRejected], slot_names[kRejected], row.rejected, errors) && ok;
    return ok;
  }

  bool build_openai(const Slots& slots, PreferenceRow& row, Errors& errors) {
    if (!require(slots, {kInput, kPreferredOutput, kNonPreferredOutput}, errors))
      return false;
    element messages;
    element input = slots.value[kInput];
    if (!input.is_object()) {
      wrong_type(errors, "input", "an object {messages: [...]}", input);
      return false;
    }
    if (input["messages"].get(messages) != simdjson::SUCCESS) {
      errors.add(IssueCode::missing_field, "missing field 'input.messages'");
      return false;
    }
    bool ok = read_messages(messages, "input.messages", row.prompt, errors);
    ok = read_completion(slots.value[kPreferredOutput], "preferred_output", row.chosen, errors) &&
         ok;
    ok = read_completion(
             slots.value[kNonPreferredOutput], "non_preferred_output", row.rejected, errors) &&
         ok;
    return ok;
  }

  // The system field becomes the first prompt message (an empty one is ignored).
  void add_system(const Slots& slots, PreferenceRow& row, Errors& errors) {
    if (!slots.has(kSystem) || slots.value[kSystem].is_null())
      return;
    std::string_view system;
    if (slots.value[kSystem].get_string().get(system) != simdjson::SUCCESS) {
      wrong_type(errors, slot_names[kSystem], "a string", slots.value[kSystem]);
      return;
    }
    if (is_blank(system))
      return;
    if (!row.prompt.empty() && row.prompt[0].role == "system") {
      errors.add(
          IssueCode::bad_role_order,
          "the row has both a '" + slot_names[kSystem] + "' field and a system message");
      return;
    }
    row.prompt.insert(row.prompt.begin(), Message{"system", std::string(system)});
  }

  void read_optional_fields(const Slots& slots, PreferenceRow& row, Errors& errors) {
    if (slots.has(kId) && !slots.value[kId].is_null()) {
      element id = slots.value[kId];
      std::string_view text;
      if (id.get_string().get(text) == simdjson::SUCCESS) {
        row.id.assign(text);
      } else if (id.is_number()) {
        row.id = simdjson::minify(id);
      } else {
        wrong_type(errors, slot_names[kId], "a string or a number", id);
      }
    }
    if (slots.has(kMetadata) && !slots.value[kMetadata].is_null()) {
      simdjson::dom::object metadata;
      if (slots.value[kMetadata].get_object().get(metadata) != simdjson::SUCCESS) {
        wrong_type(errors, slot_names[kMetadata], "an object", slots.value[kMetadata]);
      } else {
        row.metadata_json = simdjson::minify(metadata);
        for (simdjson::dom::key_value_pair field : metadata)
          add_scalars(row.metadata_values, field.key, field.value, 0);
      }
    }
    if (slots.has(kPreference) && !slots.value[kPreference].is_null()) {
      std::string_view text;
      if (slots.value[kPreference].get_string().get(text) != simdjson::SUCCESS) {
        wrong_type(errors, slot_names[kPreference], "a string", slots.value[kPreference]);
      } else if (text == "chosen") {
        row.judgment = Judgment::chosen;
      } else if (text == "tie") {
        row.judgment = Judgment::tie;
      } else if (text == "both_bad") {
        row.judgment = Judgment::both_bad;
      } else {
        errors.add(
            IssueCode::invalid_value,
            "'" + slot_names[kPreference] + "' is '" + excerpt_for_message(text, 30) +
                "', not one of chosen, tie, both_bad");
      }
    }
    if (slots.has(kStrength) && !slots.value[kStrength].is_null()) {
      double strength;
      if (slots.value[kStrength].get_double().get(strength) == simdjson::SUCCESS) {
        row.strength = strength;
      } else {
        wrong_type(errors, slot_names[kStrength], "a number", slots.value[kStrength]);
      }
    }
    if (slots.has(kSplit) && !slots.value[kSplit].is_null()) {
      std::string_view text;
      if (slots.value[kSplit].get_string().get(text) != simdjson::SUCCESS) {
        wrong_type(errors, slot_names[kSplit], "a string", slots.value[kSplit]);
      } else if (text == "train") {
        row.requested_split = RequestedSplit::train;
      } else if (
          text == "val" || text == "validation" || text == "test" || text == "eval" ||
          text == "held_out" || text == "heldout" || text == "dev") {
        row.requested_split = RequestedSplit::val;
      } else {
        errors.add(
            IssueCode::invalid_value,
            "'" + slot_names[kSplit] + "' is '" + excerpt_for_message(text, 30) +
                "', not one of train, val (validation, test, eval, dev, held_out)");
      }
    }
  }
};

RowParser::RowParser(DataFormat format, FieldNames fields)
    : impl_(std::make_unique<Impl>(format, fields)) {}

RowParser::~RowParser() = default;

DataFormat RowParser::format() const {
  return impl_->format;
}

bool RowParser::parse(
    std::string_view record,
    PreferenceRow& row,
    std::vector<RowError>& errors,
    uint64_t first_line) {
  row.clear();
  Errors row_errors(errors);
  element root;
  simdjson::error_code code =
      impl_->parser.parse(record.data(), record.size(), /*realloc_if_needed=*/false).get(root);
  if (code != simdjson::SUCCESS) {
    report_unparsable(record, first_line, code, row_errors);
    return false;
  }
  if (has_duplicate_key(root)) {
    std::optional<JsonProblem> problem = locate_problem(record, first_line);
    row_errors.add(
        IssueCode::duplicate_key,
        problem ? problem_text(*problem, first_line)
                : std::string("a key occurs twice in one object"));
    return false;
  }
  simdjson::dom::object object;
  if (root.get_object().get(object) != simdjson::SUCCESS) {
    row_errors.add(
        IssueCode::wrong_type,
        std::string("the row is ") + json_type_name(root) + ", not a JSON object");
    return false;
  }
  Slots slots;
  impl_->collect(object, slots, row);
  if (impl_->format == DataFormat::auto_detect) {
    DataFormat detected = impl_->detect(slots);
    if (detected == DataFormat::auto_detect) {
      row_errors.add(
          IssueCode::missing_field,
          "no preference fields found (prompt/chosen/rejected, conversations, or "
          "input/preferred_output); name the columns with --fields or pick --format");
      return false;
    }
    impl_->format = detected;
  }
  bool built = false;
  switch (impl_->format) {
    case DataFormat::standard:
    case DataFormat::conversational:
      built = impl_->build_prompt_completion(slots, row, row_errors);
      break;
    case DataFormat::implicit_prompt:
      built = impl_->build_implicit(slots, row, row_errors);
      break;
    case DataFormat::sharegpt:
      built = impl_->build_sharegpt(slots, row, row_errors);
      break;
    case DataFormat::openai:
      built = impl_->build_openai(slots, row, row_errors);
      break;
    case DataFormat::auto_detect:
      break;
  }
  if (built) {
    impl_->add_system(slots, row, row_errors);
    check_prompt_has_user_turn(row.prompt, row_errors);
  }
  impl_->read_optional_fields(slots, row, row_errors);
  return built && !row_errors.any();
}

std::vector<Message> parse_conversation(std::string_view json, const std::string& source) {
  const std::string where = "'" + source + "'";
  const char* hint =
      "write [{\"role\": \"user\", \"content\": \"...\"}, ...] or {\"messages\": [...]}";
  simdjson::dom::parser parser;
  simdjson::padded_string padded(json);
  element root;
  simdjson::error_code code = parser.parse(padded).get(root);
  if (code != simdjson::SUCCESS || has_duplicate_key(root)) {
    JsonParseOptions options;
    options.max_depth = static_cast<int>(simdjson::DEFAULT_MAX_DEPTH);
    options.skip_leading_bom = false;  // simdjson refuses one
    std::optional<JsonProblem> problem = find_json_problem(json, options);
    if (code == simdjson::UTF8_ERROR && !problem) {
      throw DataError(
          where + " has invalid UTF-8 at byte " + std::to_string(first_invalid_utf8(json)));
    }
    throw DataError(
        where + " is not valid JSON: " +
            (problem                     ? problem->describe()
             : code == simdjson::SUCCESS ? std::string("a key occurs twice in one object")
                                         : simdjson::error_message(code)),
        hint);
  }
  element list = root;
  element messages_value;
  if (root.is_object() && root["messages"].get(messages_value) == simdjson::SUCCESS) {
    list = messages_value;
  }
  if (!list.is_array())
    throw DataError(where + " must hold a JSON array of messages", hint);
  std::vector<RowError> found;
  Errors errors(found);
  std::vector<Message> messages;
  if (!read_messages(list, "messages", messages, errors)) {
    throw DataError(where + ": " + found.front().message, hint);
  }
  return messages;
}

}  // namespace dpo
