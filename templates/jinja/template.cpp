// Template: parse once, render many times (see template.h); Jinja2's default globals.
#include "templates/jinja/template.h"

#include "templates/jinja/lexer.h"
#include "templates/jinja/operations.h"
#include "templates/jinja/parser.h"
#include "templates/jinja/renderer.h"

namespace dpo::jinja {

namespace {

constexpr int64_t kMaxRange = 100000;  // jinja2.sandbox.MAX_RANGE

Value range_function(const CallArgs& args) {
  if (!args.keywords.empty())
    throw_type_error("range() takes no keyword arguments");
  if (args.positional.empty() || args.positional.size() > 3) {
    throw_type_error(
        "range expected 1 to 3 arguments, got " + std::to_string(args.positional.size()));
  }
  int64_t start = 0, stop, step = 1;
  if (args.positional.size() == 1) {
    stop = require_int(args.positional[0], "range() argument");
  } else {
    start = require_int(args.positional[0], "range() argument");
    stop = require_int(args.positional[1], "range() argument");
    if (args.positional.size() == 3)
      step = require_int(args.positional[2], "range() argument");
  }
  if (step == 0)
    throw_type_error("range() arg 3 must not be zero");
  ValueList items;
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
    if (static_cast<int64_t>(items.size()) >= kMaxRange) {
      throw RenderError(
          RenderError::Kind::security,
          "Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
    }
    items.push_back(Value::integer(i));
  }
  return Value::sequence(std::move(items), SequenceFlavor::range);
}

// dict(mapping_or_pairs, **kwargs) and namespace(...) share Python's dict() argument rules.
void fill_mapping(DictData& data, const CallArgs& args, const char* what) {
  if (args.positional.size() > 1)
    throw_type_error(std::string(what) + " expected at most 1 argument");
  if (!args.positional.empty()) {
    const Value& source = args.positional[0];
    if (source.is_dict() || source.is_namespace()) {
      for (const auto& entry : source.dict_data().entries)
        data.set(entry.first, entry.second);
    } else {
      for (const Value& pair : iterate(source)) {
        ValueList kv = iterate(pair);
        if (kv.size() != 2)
          throw_type_error(std::string(what) + " sequence elements must have length 2");
        data.set(kv[0], kv[1]);
      }
    }
  }
  for (const auto& keyword : args.keywords)
    data.set(Value::string(keyword.first), keyword.second);
}

}  // namespace

Globals jinja_builtin_globals() {
  return {
      {"range", Value::function("range", range_function)},
      {"dict",
       Value::function(
           "dict",
           [](const CallArgs& args) {
             Value dict = Value::dict();
             fill_mapping(dict.dict_data(), args, "dict");
             return dict;
           })},
      {"namespace",
       Value::function(
           "namespace",
           [](const CallArgs& args) {
             Value ns = Value::namespace_object();
             fill_mapping(ns.dict_data(), args, "namespace");
             return ns;
           })},
  };
}

Template::Template(const std::string& source, std::string origin, const Limits& limits)
    : origin_(std::move(origin)), limits_(limits) {
  std::string normalized = normalize_template_source(source);
  std::vector<Token> tokens = tokenize(normalized, origin_);
  nodes_ = parse_template(tokens, origin_, limits_.max_nesting_depth);
}

std::string Template::render(const Globals& globals) const {
  auto frame = std::make_shared<Frame>();
  for (auto& global : jinja_builtin_globals())
    frame->set(global.first, std::move(global.second));
  for (const auto& global : globals)
    frame->set(global.first, global.second);
  return render_nodes(nodes_, origin_, frame, limits_);
}

}  // namespace dpo::jinja
