// The template parser, a transcription of jinja2/parser.py (3.1) for the tags chat templates
// use (see parser.h).
#include "templates/jinja/parser.h"

#include <algorithm>
#include <initializer_list>

#include "templates/jinja/filters.h"

namespace dpo::jinja {

namespace {

bool is_constant_name(const std::string& name) {
  return name == "true" || name == "false" || name == "none" || name == "True" || name == "False" ||
         name == "None";
}

std::string describe(const Token& token) {
  switch (token.type) {
    case TokenType::end:
      return "end of template";
    case TokenType::block_end:
      return "end of statement block";
    case TokenType::variable_end:
      return "end of print statement";
    case TokenType::block_begin:
      return "begin of statement block";
    case TokenType::variable_begin:
      return "begin of print statement";
    case TokenType::string:
      return "string";
    case TokenType::integer:
      return "integer";
    case TokenType::floating:
      return "float";
    case TokenType::text:
      return "template text";
    default:
      return "'" + token.text + "'";
  }
}

// The depth of the deepest expression under `root`, measured without recursion (an operator
// chain is built by a loop, so its depth is not bounded by the parser's own recursion).
int expression_depth(const Expr& root) {
  int deepest = 0;
  std::vector<std::pair<const Expr*, int>> pending = {{&root, 1}};
  while (!pending.empty()) {
    auto [expr, depth] = pending.back();
    pending.pop_back();
    deepest = std::max(deepest, depth);
    for (const ExprPtr& arg : expr->args) {
      if (arg)
        pending.emplace_back(arg.get(), depth + 1);
    }
    for (const auto& kwarg : expr->kwargs) {
      if (kwarg.second)
        pending.emplace_back(kwarg.second.get(), depth + 1);
    }
  }
  return deepest;
}

class Parser {
 public:
  Parser(const std::vector<Token>& tokens, const std::string& origin, int max_depth)
      : tokens_(tokens), origin_(origin), max_depth_(max_depth) {}

  NodeList parse() {
    NodeList body = subparse({});
    check_depth(body);
    return body;
  }

 private:
  // ---- nesting ----
  // Counts the parser's own recursion (parentheses, `not`, unary signs, conditional
  // expressions, nested statements).
  class NestingGuard {
   public:
    explicit NestingGuard(Parser& parser) : parser_(parser) {
      if (++parser_.nesting_ > parser_.max_depth_) {
        parser_.fail(
            parser_.current().position,
            "expressions or blocks nested deeper than " + std::to_string(parser_.max_depth_) +
                " levels");
      }
    }
    ~NestingGuard() {
      --parser_.nesting_;
    }

   private:
    Parser& parser_;
  };

  void check_expression(const ExprPtr& expr) {
    if (expr && expression_depth(*expr) > max_depth_) {
      fail(
          expr->position,
          "an expression nested deeper than " + std::to_string(max_depth_) +
              " levels (operators, filters, attributes or calls)");
    }
  }

  void check_depth(const NodeList& nodes) {
    for (const NodePtr& node : nodes) {
      check_expression(node->expr);
      check_expression(node->target);
      check_expression(node->condition);
      for (const MacroParam& param : node->params)
        check_expression(param.default_value);
      for (const auto& assignment : node->assignments) {
        check_expression(assignment.first);
        check_expression(assignment.second);
      }
      check_depth(node->body);
      check_depth(node->else_body);
    }
  }

  // ---- token stream ----
  const Token& current() const {
    return tokens_[pos_];
  }
  const Token& look() const {
    return tokens_[std::min(pos_ + 1, tokens_.size() - 1)];
  }
  const Token& next() {
    const Token& token = tokens_[pos_];
    if (pos_ + 1 < tokens_.size())
      ++pos_;
    return token;
  }
  bool is_op(const char* op) const {
    return current().type == TokenType::op && current().text == op;
  }
  bool is_name(const char* name) const {
    return current().type == TokenType::name && current().text == name;
  }
  bool skip_op(const char* op) {
    if (!is_op(op))
      return false;
    next();
    return true;
  }
  bool skip_name(const char* name) {
    if (!is_name(name))
      return false;
    next();
    return true;
  }
  [[noreturn]] void fail(const Position& position, const std::string& message) const {
    throw_syntax_error(origin_, position, message);
  }
  [[noreturn]] void fail_unexpected(const std::string& expected) const {
    fail(current().position, "expected " + expected + ", got " + describe(current()));
  }
  void expect_op(const char* op) {
    if (!skip_op(op))
      fail_unexpected(std::string("'") + op + "'");
  }
  void expect_name(const char* name) {
    if (!skip_name(name))
      fail_unexpected(std::string("'") + name + "'");
  }
  const Token& expect_any_name() {
    if (current().type != TokenType::name)
      fail_unexpected("a name");
    return next();
  }
  void expect_block_end() {
    if (current().type != TokenType::block_end)
      fail_unexpected("end of statement block");
    next();
  }

  ExprPtr make(ExprKind kind, Position position) {
    auto expr = std::make_unique<Expr>();
    expr->kind = kind;
    expr->position = position;
    return expr;
  }

  // ---- statements ----
  NodeList subparse(std::initializer_list<const char*> end_tags) {
    NodeList body;
    while (true) {
      const Token& token = current();
      if (token.type == TokenType::end) {
        if (end_tags.size() == 0)
          return body;
        std::string expected;
        for (const char* tag : end_tags)
          expected += (expected.empty() ? "'" : " or '") + std::string(tag) + "'";
        fail(
            token.position,
            "unexpected end of template: a block is still open, expected " + expected);
      }
      if (token.type == TokenType::text) {
        auto node = std::make_unique<Node>();
        node->kind = NodeKind::text;
        node->position = token.position;
        node->text = token.text;
        body.push_back(std::move(node));
        next();
      } else if (token.type == TokenType::variable_begin) {
        next();
        auto node = std::make_unique<Node>();
        node->kind = NodeKind::output;
        node->position = current().position;
        node->expr = parse_tuple(false, true, {}, false);
        if (current().type != TokenType::variable_end)
          fail_unexpected("end of print statement");
        next();
        body.push_back(std::move(node));
      } else if (token.type == TokenType::block_begin) {
        next();
        for (const char* tag : end_tags) {
          if (is_name(tag))
            return body;
        }
        body.push_back(parse_statement(end_tags));
        expect_block_end();
      } else {
        fail_unexpected("template text or a tag");
      }
    }
  }

  // Reads the body of a block up to one of `end_tags`; with drop_needle the end tag's name is
  // consumed (its %} is left for the caller).
  NodeList parse_statements(std::initializer_list<const char*> end_tags, bool drop_needle) {
    skip_op(":");
    expect_block_end();
    NodeList body = subparse(end_tags);
    if (drop_needle)
      next();
    return body;
  }

  NodePtr parse_statement(std::initializer_list<const char*> open_end_tags) {
    NestingGuard nesting(*this);
    const Token& token = current();
    if (token.type != TokenType::name)
      fail(token.position, "tag name expected, got " + describe(token));
    const std::string& tag = token.text;
    if (tag == "for")
      return parse_for();
    if (tag == "if")
      return parse_if();
    if (tag == "set")
      return parse_set();
    if (tag == "macro")
      return parse_macro();
    if (tag == "call")
      return parse_call_block();
    if (tag == "filter")
      return parse_filter_block();
    if (tag == "with")
      return parse_with();
    if (tag == "generation")
      return parse_generation();
    if (tag == "break" || tag == "continue") {
      if (loop_depth_ == 0)
        fail(token.position, "'" + tag + "' outside of a loop");
      auto node = std::make_unique<Node>();
      node->kind = tag == "break" ? NodeKind::break_loop : NodeKind::continue_loop;
      node->position = token.position;
      next();
      return node;
    }
    static const char* const unsupported[] = {
        "block",
        "extends",
        "include",
        "import",
        "from",
        "do",
        "autoescape",
        "trans",
        "pluralize",
        "raw"};
    for (const char* name : unsupported) {
      if (tag == name) {
        fail(
            token.position,
            "the '" + tag +
                "' tag is not supported by this engine (chat templates "
                "are rendered standalone, with the loopcontrols extension only)");
      }
    }
    std::string message = "unknown tag '" + tag + "'";
    if (open_end_tags.size() > 0) {
      message += "; the innermost open block expects ";
      bool first = true;
      for (const char* end : open_end_tags) {
        message += (first ? "'" : " or '") + std::string(end) + "'";
        first = false;
      }
    }
    fail(token.position, message);
  }

  NodePtr parse_for() {
    auto node = std::make_unique<Node>();
    node->kind = NodeKind::for_block;
    node->position = next().position;
    node->target = parse_assign_target(true, false, "in", false);
    expect_name("in");
    node->expr = parse_tuple(false, false, "recursive", false);
    if (skip_name("if"))
      node->condition = parse_expression(true);
    if (is_name("recursive"))
      fail(current().position, "recursive for loops are not supported");
    ++loop_depth_;
    node->body = parse_statements({"endfor", "else"}, false);
    --loop_depth_;
    if (next().text == "else")
      node->else_body = parse_statements({"endfor"}, true);
    return node;
  }

  NodePtr parse_if() {
    auto root = std::make_unique<Node>();
    root->kind = NodeKind::if_block;
    root->position = next().position;
    Node* node = root.get();
    while (true) {
      node->expr = parse_tuple(false, false, nullptr, false);
      node->body = parse_statements({"elif", "else", "endif"}, false);
      const Token& token = next();
      if (token.text == "elif") {
        auto elif = std::make_unique<Node>();
        elif->kind = NodeKind::if_block;
        elif->position = token.position;
        Node* raw = elif.get();
        node->else_body.push_back(std::move(elif));
        node = raw;
        continue;
      }
      if (token.text == "else")
        node->else_body = parse_statements({"endif"}, true);
      break;
    }
    return root;
  }

  NodePtr parse_set() {
    auto node = std::make_unique<Node>();
    node->position = next().position;
    node->target = parse_assign_target(true, false, nullptr, true);
    if (skip_op("=")) {
      node->kind = NodeKind::set;
      node->expr = parse_tuple(false, true, nullptr, false);
      return node;
    }
    node->kind = NodeKind::set_block;
    if (node->target->kind != ExprKind::name) {
      fail(node->position, "a block set ({% set x %}...{% endset %}) needs a plain name");
    }
    node->expr = parse_filter(nullptr, false);
    node->body = parse_statements({"endset"}, true);
    return node;
  }

  void parse_signature(Node& node) {
    expect_op("(");
    while (!is_op(")")) {
      if (!node.params.empty())
        expect_op(",");
      MacroParam param;
      const Token& name = expect_any_name();
      if (is_constant_name(name.text))
        fail(name.position, "cannot use '" + name.text + "' as a parameter name");
      param.name = name.text;
      if (skip_op("=")) {
        param.default_value = parse_expression(true);
      } else if (!node.params.empty() && node.params.back().default_value) {
        fail(name.position, "non-default argument follows default argument");
      }
      node.params.push_back(std::move(param));
    }
    expect_op(")");
  }

  NodePtr parse_macro() {
    auto node = std::make_unique<Node>();
    node->kind = NodeKind::macro;
    node->position = next().position;
    const Token& name = expect_any_name();
    node->name = name.text;
    parse_signature(*node);
    MacroNames names;
    macro_names_.push_back(&names);
    int saved_loop_depth = loop_depth_;
    loop_depth_ = 0;
    node->body = parse_statements({"endmacro"}, true);
    loop_depth_ = saved_loop_depth;
    macro_names_.pop_back();
    node->uses_caller = names.caller;
    node->uses_varargs = names.varargs;
    node->uses_kwargs = names.kwargs;
    return node;
  }

  NodePtr parse_call_block() {
    auto node = std::make_unique<Node>();
    node->kind = NodeKind::call_block;
    node->position = next().position;
    if (is_op("("))
      parse_signature(*node);
    node->expr = parse_expression(true);
    if (node->expr->kind != ExprKind::call)
      fail(node->expr->position, "expected a call after 'call'");
    MacroNames names;
    macro_names_.push_back(&names);
    int saved_loop_depth = loop_depth_;
    loop_depth_ = 0;
    node->body = parse_statements({"endcall"}, true);
    loop_depth_ = saved_loop_depth;
    macro_names_.pop_back();
    node->uses_varargs = names.varargs;
    node->uses_kwargs = names.kwargs;
    return node;
  }

  NodePtr parse_filter_block() {
    auto node = std::make_unique<Node>();
    node->kind = NodeKind::filter_block;
    node->position = next().position;
    node->expr = parse_filter(nullptr, true);
    node->body = parse_statements({"endfilter"}, true);
    return node;
  }

  NodePtr parse_with() {
    auto node = std::make_unique<Node>();
    node->kind = NodeKind::with_block;
    node->position = next().position;
    while (current().type != TokenType::block_end) {
      if (!node->assignments.empty())
        expect_op(",");
      ExprPtr target = parse_assign_target(true, false, nullptr, false);
      expect_op("=");
      node->assignments.emplace_back(std::move(target), parse_expression(true));
    }
    node->body = parse_statements({"endwith"}, true);
    return node;
  }

  NodePtr parse_generation() {
    auto node = std::make_unique<Node>();
    node->kind = NodeKind::generation;
    node->position = next().position;
    node->body = parse_statements({"endgeneration"}, true);
    return node;
  }

  // A name, a tuple of names (for loops, set), or namespace.attribute (set).
  ExprPtr parse_assign_target(
      bool with_tuple, bool name_only, const char* extra_end, bool with_namespace) {
    ExprPtr target;
    if (with_namespace && current().type == TokenType::name && look().type == TokenType::op &&
        look().text == ".") {
      const Token& ns = next();
      next();
      const Token& attribute = expect_any_name();
      target = make(ExprKind::attribute, ns.position);
      auto base = make(ExprKind::name, ns.position);
      base->name = ns.text;
      target->args.push_back(std::move(base));
      target->name = attribute.text;
      return target;
    }
    if (name_only) {
      const Token& name = expect_any_name();
      target = make(ExprKind::name, name.position);
      target->name = name.text;
    } else if (with_tuple) {
      target = parse_tuple(true, true, extra_end, false);
    } else {
      target = parse_primary();
    }
    check_assignable(*target);
    return target;
  }

  void check_assignable(const Expr& target) {
    if (target.kind == ExprKind::name && !is_constant_name(target.name))
      return;
    if (target.kind == ExprKind::tuple) {
      for (const auto& item : target.args)
        check_assignable(*item);
      return;
    }
    fail(target.position, "cannot assign to this expression (expected a name)");
  }

  // ---- expressions ----
  bool is_tuple_end(const char* extra_end) const {
    const Token& token = current();
    if (token.type == TokenType::variable_end || token.type == TokenType::block_end)
      return true;
    if (token.type == TokenType::op && token.text == ")")
      return true;
    return extra_end != nullptr && token.type == TokenType::name && token.text == extra_end;
  }

  ExprPtr parse_tuple(
      bool simplified, bool with_condexpr, const char* extra_end, bool explicit_parentheses) {
    Position position = current().position;
    std::vector<ExprPtr> args;
    bool is_tuple = false;
    while (true) {
      if (!args.empty())
        expect_op(",");
      if (is_tuple_end(extra_end))
        break;
      if (simplified) {
        args.push_back(parse_primary());
      } else {
        args.push_back(parse_expression(with_condexpr));
      }
      if (is_op(",")) {
        is_tuple = true;
      } else {
        break;
      }
    }
    if (!is_tuple) {
      if (!args.empty())
        return std::move(args[0]);
      if (!explicit_parentheses)
        fail_unexpected("an expression");
    }
    auto tuple = make(ExprKind::tuple, position);
    tuple->args = std::move(args);
    return tuple;
  }

  ExprPtr parse_expression(bool with_condexpr) {
    return with_condexpr ? parse_condexpr() : parse_or();
  }

  ExprPtr parse_condexpr() {
    NestingGuard nesting(*this);
    Position position = current().position;
    ExprPtr expr = parse_or();
    while (skip_name("if")) {
      ExprPtr condition = parse_or();
      ExprPtr otherwise;
      if (skip_name("else"))
        otherwise = parse_condexpr();
      auto node = make(ExprKind::condition, position);
      node->args.push_back(std::move(expr));
      node->args.push_back(std::move(condition));
      node->args.push_back(std::move(otherwise));
      expr = std::move(node);
    }
    return expr;
  }

  ExprPtr binary(const std::string& op, ExprPtr left, ExprPtr right, Position position) {
    auto node = make(ExprKind::binary, position);
    node->name = op;
    node->args.push_back(std::move(left));
    node->args.push_back(std::move(right));
    return node;
  }

  ExprPtr parse_or() {
    ExprPtr left = parse_and();
    while (is_name("or")) {
      Position position = next().position;
      left = binary("or", std::move(left), parse_and(), position);
    }
    return left;
  }

  ExprPtr parse_and() {
    ExprPtr left = parse_not();
    while (is_name("and")) {
      Position position = next().position;
      left = binary("and", std::move(left), parse_not(), position);
    }
    return left;
  }

  ExprPtr parse_not() {
    NestingGuard nesting(*this);
    if (is_name("not")) {
      Position position = next().position;
      auto node = make(ExprKind::unary, position);
      node->name = "not";
      node->args.push_back(parse_not());
      return node;
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    Position position = current().position;
    ExprPtr expr = parse_math1();
    ExprPtr node;
    while (true) {
      std::string op;
      const Token& token = current();
      if (token.type == TokenType::op &&
          (token.text == "==" || token.text == "!=" || token.text == "<" || token.text == "<=" ||
           token.text == ">" || token.text == ">=")) {
        op = token.text;
        next();
      } else if (is_name("in")) {
        op = "in";
        next();
      } else if (is_name("not") && look().type == TokenType::name && look().text == "in") {
        op = "notin";
        next();
        next();
      } else {
        break;
      }
      if (!node) {
        node = make(ExprKind::compare, position);
        node->args.push_back(std::move(expr));
      }
      node->ops.push_back(op);
      node->args.push_back(parse_math1());
    }
    return node ? std::move(node) : std::move(expr);
  }

  ExprPtr parse_math1() {
    ExprPtr left = parse_concat();
    while (is_op("+") || is_op("-")) {
      const Token& token = next();
      left = binary(token.text, std::move(left), parse_concat(), token.position);
    }
    return left;
  }

  ExprPtr parse_concat() {
    ExprPtr left = parse_math2();
    while (is_op("~")) {
      Position position = next().position;
      left = binary("~", std::move(left), parse_math2(), position);
    }
    return left;
  }

  ExprPtr parse_math2() {
    ExprPtr left = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      const Token& token = next();
      left = binary(token.text, std::move(left), parse_pow(), token.position);
    }
    return left;
  }

  ExprPtr parse_pow() {
    ExprPtr left = parse_unary(true);
    while (is_op("**")) {
      Position position = next().position;
      left = binary("**", std::move(left), parse_unary(true), position);
    }
    return left;
  }

  ExprPtr parse_unary(bool with_filter) {
    NestingGuard nesting(*this);
    ExprPtr node;
    if (is_op("-") || is_op("+")) {
      const Token& token = next();
      node = make(ExprKind::unary, token.position);
      node->name = token.text;
      node->args.push_back(parse_unary(false));
    } else {
      node = parse_primary();
    }
    node = parse_postfix(std::move(node));
    if (with_filter)
      node = parse_filter_expr(std::move(node));
    return node;
  }

  ExprPtr parse_primary() {
    const Token& token = current();
    if (token.type == TokenType::name) {
      next();
      if (token.text == "true" || token.text == "True" || token.text == "false" ||
          token.text == "False") {
        auto node = make(ExprKind::literal, token.position);
        node->value = Value::boolean(token.text == "true" || token.text == "True");
        return node;
      }
      if (token.text == "none" || token.text == "None") {
        auto node = make(ExprKind::literal, token.position);
        node->value = Value::none();
        return node;
      }
      auto node = make(ExprKind::name, token.position);
      node->name = token.text;
      for (MacroNames* names : macro_names_) {
        if (token.text == "caller")
          names->caller = true;
        if (token.text == "varargs")
          names->varargs = true;
        if (token.text == "kwargs")
          names->kwargs = true;
      }
      return node;
    }
    if (token.type == TokenType::string) {
      // Adjacent string literals are concatenated, as in Python.
      Position position = token.position;
      std::string text;
      while (current().type == TokenType::string)
        text += next().text;
      auto node = make(ExprKind::literal, position);
      node->value = Value::string(std::move(text));
      return node;
    }
    if (token.type == TokenType::integer || token.type == TokenType::floating) {
      next();
      auto node = make(ExprKind::literal, token.position);
      node->value = token.type == TokenType::integer ? Value::integer(token.integer)
                                                     : Value::floating(token.floating);
      return node;
    }
    if (is_op("(")) {
      next();
      ExprPtr node = parse_tuple(false, true, nullptr, true);
      expect_op(")");
      return node;
    }
    if (is_op("["))
      return parse_list();
    if (is_op("{"))
      return parse_dict();
    fail(token.position, "unexpected " + describe(token) + " in an expression");
  }

  ExprPtr parse_list() {
    auto node = make(ExprKind::list, next().position);
    while (!is_op("]")) {
      if (!node->args.empty())
        expect_op(",");
      if (is_op("]"))
        break;
      node->args.push_back(parse_expression(true));
    }
    expect_op("]");
    return node;
  }

  ExprPtr parse_dict() {
    auto node = make(ExprKind::dict, next().position);
    while (!is_op("}")) {
      if (!node->args.empty())
        expect_op(",");
      if (is_op("}"))
        break;
      node->args.push_back(parse_expression(true));
      expect_op(":");
      node->args.push_back(parse_expression(true));
    }
    expect_op("}");
    return node;
  }

  ExprPtr parse_postfix(ExprPtr node) {
    while (true) {
      if (is_op(".") || is_op("[")) {
        node = parse_subscript(std::move(node));
      } else if (is_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr parse_filter_expr(ExprPtr node) {
    while (true) {
      if (is_op("|")) {
        node = parse_filter(std::move(node), false);
      } else if (is_name("is")) {
        node = parse_test(std::move(node));
      } else if (is_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr parse_subscript(ExprPtr node) {
    const Token& token = next();
    if (token.text == ".") {
      const Token& attribute = current();
      next();
      if (attribute.type == TokenType::name) {
        auto result = make(ExprKind::attribute, token.position);
        result->name = attribute.text;
        result->args.push_back(std::move(node));
        return result;
      }
      if (attribute.type == TokenType::integer) {
        auto result = make(ExprKind::item, token.position);
        result->args.push_back(std::move(node));
        auto index = make(ExprKind::literal, attribute.position);
        index->value = Value::integer(attribute.integer);
        result->args.push_back(std::move(index));
        return result;
      }
      fail(attribute.position, "expected a name or number after '.'");
    }
    // [ ... ]
    std::vector<ExprPtr> args;
    while (!is_op("]")) {
      if (!args.empty())
        expect_op(",");
      args.push_back(parse_subscribed());
    }
    expect_op("]");
    if (args.size() == 1 && args[0]->kind == ExprKind::slice) {
      args[0]->args.insert(args[0]->args.begin(), std::move(node));
      args[0]->position = token.position;
      return std::move(args[0]);
    }
    auto result = make(ExprKind::item, token.position);
    result->args.push_back(std::move(node));
    if (args.size() == 1) {
      result->args.push_back(std::move(args[0]));
    } else {
      auto tuple = make(ExprKind::tuple, token.position);
      for (auto& arg : args) {
        if (arg->kind == ExprKind::slice)
          fail(arg->position, "multi-dimensional slices are not supported");
        tuple->args.push_back(std::move(arg));
      }
      result->args.push_back(std::move(tuple));
    }
    return result;
  }

  ExprPtr parse_subscribed() {
    Position position = current().position;
    std::vector<ExprPtr> parts;  // start, stop, step
    if (is_op(":")) {
      next();
      parts.push_back(nullptr);
    } else {
      ExprPtr first = parse_expression(true);
      if (!is_op(":"))
        return first;
      next();
      parts.push_back(std::move(first));
    }
    if (is_op(":")) {
      parts.push_back(nullptr);
    } else if (!is_op("]") && !is_op(",")) {
      parts.push_back(parse_expression(true));
    } else {
      parts.push_back(nullptr);
    }
    if (is_op(":")) {
      next();
      if (!is_op("]") && !is_op(",")) {
        parts.push_back(parse_expression(true));
      } else {
        parts.push_back(nullptr);
      }
    } else {
      parts.push_back(nullptr);
    }
    auto slice = make(ExprKind::slice, position);
    for (auto& part : parts)
      slice->args.push_back(std::move(part));
    return slice;
  }

  void parse_call_args(Expr& node) {
    expect_op("(");
    bool require_comma = false;
    while (!is_op(")")) {
      if (require_comma) {
        expect_op(",");
        if (is_op(")"))
          break;
      }
      if (is_op("*") || is_op("**")) {
        fail(current().position, "*args and **kwargs in calls are not supported");
      }
      if (current().type == TokenType::name && look().type == TokenType::op && look().text == "=") {
        std::string key = next().text;
        next();
        node.kwargs.emplace_back(key, parse_expression(true));
      } else {
        if (!node.kwargs.empty()) {
          fail(current().position, "positional argument follows keyword argument");
        }
        node.args.push_back(parse_expression(true));
      }
      require_comma = true;
    }
    expect_op(")");
  }

  ExprPtr parse_call(ExprPtr callee) {
    auto node = make(ExprKind::call, callee->position);
    node->args.push_back(std::move(callee));
    parse_call_args(*node);
    return node;
  }

  std::string parse_dotted_name() {
    std::string name = expect_any_name().text;
    while (is_op(".")) {
      next();
      name += "." + expect_any_name().text;
    }
    return name;
  }

  ExprPtr parse_filter(ExprPtr node, bool start_inline) {
    while (is_op("|") || start_inline) {
      if (!start_inline)
        next();
      start_inline = false;
      Position position = current().position;
      std::string name = parse_dotted_name();
      if (!has_filter(name)) {
        fail(
            position,
            "no filter named '" + name + "'" +
                (is_known_unsupported_filter(name) ? " in this engine (a Jinja2 filter "
                                                     "chat templates do not use)"
                                                   : ""));
      }
      auto filter = make(ExprKind::filter, position);
      filter->name = name;
      filter->args.push_back(std::move(node));
      if (is_op("("))
        parse_call_args(*filter);
      node = std::move(filter);
    }
    return node;
  }

  ExprPtr parse_test(ExprPtr node) {
    next();  // 'is'
    bool negated = skip_name("not");
    Position position = current().position;
    std::string name = parse_dotted_name();
    if (!has_test(name))
      fail(position, "no test named '" + name + "'");
    auto test = make(ExprKind::test, position);
    test->name = name;
    test->negated = negated;
    test->args.push_back(std::move(node));
    const Token& token = current();
    if (is_op("(")) {
      parse_call_args(*test);
    } else if (
        (token.type == TokenType::name || token.type == TokenType::string ||
         token.type == TokenType::integer || token.type == TokenType::floating || is_op("[") ||
         is_op("{")) &&
        !(is_name("else") || is_name("or") || is_name("and"))) {
      if (is_name("is"))
        fail(token.position, "you cannot chain multiple tests with 'is'");
      // `x is divisibleby 3`: one argument without parentheses.
      test->args.push_back(parse_postfix(parse_primary()));
    }
    return test;
  }

  struct MacroNames {
    bool caller = false;
    bool varargs = false;
    bool kwargs = false;
  };

  const std::vector<Token>& tokens_;
  const std::string& origin_;
  size_t pos_ = 0;
  int max_depth_;
  int nesting_ = 0;
  int loop_depth_ = 0;
  std::vector<MacroNames*> macro_names_;
};

}  // namespace

NodeList parse_template(
    const std::vector<Token>& tokens, const std::string& origin, int max_depth) {
  return Parser(tokens, origin, max_depth).parse();
}

}  // namespace dpo::jinja
