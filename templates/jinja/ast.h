// The parsed form of a template: expressions and statements, as plain structs that the parser
// builds and the renderer walks.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "templates/jinja/position.h"
#include "templates/jinja/value.h"

namespace dpo::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

enum class ExprKind {
  literal,    // value
  name,       // name
  list,       // args: elements
  tuple,      // args: elements
  dict,       // args: key, value, key, value, ...
  attribute,  // args[0].name  (also foo.0, stored as item with an integer literal)
  item,       // args[0][args[1]]
  slice,      // args[0][args[1]:args[2]:args[3]], absent parts are null
  call,       // args[0](args[1:], kwargs)
  filter,     // args[0] | name(args[1:], kwargs); args[0] is null inside {% filter %} blocks
  test,       // args[0] is [not] name(args[1:], kwargs); `negated`
  unary,      // name ("-", "+", "not") args[0]
  binary,     // args[0] name args[1], name one of + - * / // % ** ~ and or
  compare,    // args[0] ops[0] args[1] ops[1] args[2] ... (==, !=, <, <=, >, >=, in, notin)
  condition   // args[0] if args[1] else args[2] (args[2] may be null)
};

struct Expr {
  Expr() = default;
  Expr(const Expr&) = delete;
  Expr& operator=(const Expr&) = delete;
  // Iterative: a long operator chain (a + a + ... + a) is a deep tree, and destroying it
  // recursively could exhaust the stack before the parser reports it as too deep.
  ~Expr() {
    std::vector<ExprPtr> pending;
    auto take_children = [&pending](Expr& expr) {
      for (ExprPtr& arg : expr.args)
        pending.push_back(std::move(arg));
      for (auto& kwarg : expr.kwargs)
        pending.push_back(std::move(kwarg.second));
      expr.args.clear();
      expr.kwargs.clear();
    };
    take_children(*this);
    while (!pending.empty()) {
      ExprPtr expr = std::move(pending.back());
      pending.pop_back();
      if (expr)
        take_children(*expr);
    }
  }

  ExprKind kind = ExprKind::literal;
  Position position;
  Value value;       // literal
  std::string name;  // variable, attribute, filter, test or operator name
  std::vector<ExprPtr> args;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
  std::vector<std::string> ops;
  bool negated = false;
};

struct Node;
using NodePtr = std::unique_ptr<Node>;
using NodeList = std::vector<NodePtr>;

enum class NodeKind {
  text,          // text
  output,        // {{ expr }}
  if_block,      // if expr: body else else_body (elif is a nested if in else_body)
  for_block,     // for target in expr [if condition]: body else else_body
  set,           // set target = expr
  set_block,     // set target [| filters]: body
  macro,         // macro name(params): body
  call_block,    // call[(params)] expr: body
  filter_block,  // filter expr (a filter chain whose innermost input is null): body
  with_block,    // with assignments: body
  break_loop,
  continue_loop,
  generation  // {% generation %} (transformers' assistant-mask extension): body
};

struct MacroParam {
  std::string name;
  ExprPtr default_value;  // null: required
};

struct Node {
  NodeKind kind = NodeKind::text;
  Position position;
  std::string text;
  ExprPtr expr;       // output / condition / iterable / value / call / filter chain
  ExprPtr target;     // for and set targets: a name, a tuple of names, or ns.attribute
  ExprPtr condition;  // for ... if condition
  NodeList body;
  NodeList else_body;
  std::string name;  // macro name
  std::vector<MacroParam> params;
  bool uses_caller = false;  // macro bodies: names the body reads, for Jinja's argument rules
  bool uses_varargs = false;
  bool uses_kwargs = false;
  std::vector<std::pair<ExprPtr, ExprPtr>> assignments;  // with
};

}  // namespace dpo::jinja
