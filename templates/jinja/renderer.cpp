// The template renderer (see renderer.h).
#include "templates/jinja/renderer.h"

#include <algorithm>

#include "core/error.h"
#include "templates/jinja/filters.h"
#include "templates/jinja/limits.h"
#include "templates/jinja/operations.h"
#include "templates/jinja/position.h"

namespace dpo::jinja {

const Value* Frame::find(const std::string& name) const {
  for (const Frame* frame = this; frame != nullptr; frame = frame->parent.get()) {
    for (auto it = frame->vars.rbegin(); it != frame->vars.rend(); ++it) {
      if (it->first == name)
        return &it->second;
    }
  }
  return nullptr;
}

void Frame::set(const std::string& name, Value value) {
  for (auto& var : vars) {
    if (var.first == name) {
      var.second = std::move(value);
      return;
    }
  }
  vars.emplace_back(name, std::move(value));
}

namespace {

// A RenderError with the position of the innermost node where it arose.
struct LocatedError {
  RenderError::Kind kind;
  std::string message;
  Position position;
};

// Work charged for each statement and expression evaluated (limits.h).
constexpr uint64_t kStepUnits = 16;

class Renderer {
 public:
  Renderer(const std::string& origin, std::shared_ptr<Frame> globals, RenderBudget& budget)
      : origin_(origin), frame_(std::move(globals)), budget_(budget) {}

  // A macro defined in a scope is stored in that scope and holds it (a cycle): the scopes the
  // macros hold are let go when the rendering ends, so that they are freed.
  ~Renderer() {
    for (const auto& closure : closures_)
      closure->reset();
  }
  Renderer(const Renderer&) = delete;
  Renderer& operator=(const Renderer&) = delete;

  std::string run(const NodeList& nodes) {
    std::string out;
    output_ = &out;
    try {
      render_list(nodes, out);
    } catch (const LocatedError& e) {
      std::string where = format_position(origin_, e.position);
      if (e.kind == RenderError::Kind::raised) {
        throw DataError(
            where + ": raise_exception: " + e.message,
            "the chat template refused this conversation");
      }
      const char* kind = e.kind == RenderError::Kind::undefined     ? "undefined value: "
                         : e.kind == RenderError::Kind::security    ? "sandbox: "
                         : e.kind == RenderError::Kind::unsupported ? "not supported: "
                         : e.kind == RenderError::Kind::limit       ? "limit exceeded: "
                                                                    : "";
      const char* hint =
          e.kind == RenderError::Kind::unsupported
              ? "see docs/chat-templates.md for what the engine supports"
          : e.kind == RenderError::Kind::limit
              ? "the template does too much work for one conversation; the limits are in "
                "docs/chat-templates.md"
              : "the template cannot render this conversation";
      throw DataError(where + ": rendering failed: " + kind + e.message, hint);
    }
    return out;
  }

 private:
  enum class Flow { normal, break_loop, continue_loop };

  // Makes `frame` current for the lifetime of the guard.
  class ScopeGuard {
   public:
    ScopeGuard(Renderer& renderer, std::shared_ptr<Frame> frame)
        : renderer_(renderer), saved_(std::move(renderer.frame_)) {
      renderer_.frame_ = std::move(frame);
    }
    ~ScopeGuard() {
      renderer_.frame_ = std::move(saved_);
    }

   private:
    Renderer& renderer_;
    std::shared_ptr<Frame> saved_;
  };

  std::shared_ptr<Frame> child_frame() {
    auto frame = std::make_shared<Frame>();
    frame->parent = frame_;
    return frame;
  }

  [[noreturn]] void fail_at(
      const Position& position, RenderError::Kind kind, const std::string& message) {
    throw LocatedError{kind, message, position};
  }

  // Counts one level of statements or expressions being evaluated (macro calls included), so
  // that no template recurses until the stack runs out.
  class DepthGuard {
   public:
    explicit DepthGuard(Renderer& renderer) : renderer_(renderer) {
      const int limit = renderer_.budget_.limits().max_render_depth;
      if (++renderer_.render_depth_ > limit) {
        --renderer_.render_depth_;
        throw RenderError(
            RenderError::Kind::limit,
            "statements and expressions nested deeper than " + std::to_string(limit) +
                " levels (macro calls included)");
      }
    }
    ~DepthGuard() {
      --renderer_.render_depth_;
    }

   private:
    Renderer& renderer_;
  };

  // Appends rendered text: the output is bounded by max_output_bytes, text captured by a
  // {% set %} or {% filter %} block or a macro by max_string_bytes.
  void append(std::string& out, const std::string& text) {
    const Limits& limits = budget_.limits();
    if (&out == output_) {
      if (out.size() + text.size() > limits.max_output_bytes) {
        throw RenderError(
            RenderError::Kind::limit,
            "the template exceeded the output limit of " + byte_size_text(limits.max_output_bytes));
      }
      budget_.charge(text.size());
    } else {
      check_string_growth(out.size() + text.size());
      budget_.charge(text.size());
    }
    out += text;
  }

  // ---- statements ----
  Flow render_list(const NodeList& nodes, std::string& out) {
    for (const NodePtr& node : nodes) {
      Flow flow = render_node(*node, out);
      if (flow != Flow::normal)
        return flow;
    }
    return Flow::normal;
  }

  Flow render_node(const Node& node, std::string& out) {
    try {
      DepthGuard depth(*this);
      budget_.charge(kStepUnits);
      return render_node_inner(node, out);
    } catch (const RenderError& e) {
      fail_at(node.position, e.kind(), e.what());
    }
  }

  Flow render_node_inner(const Node& node, std::string& out) {
    switch (node.kind) {
      case NodeKind::text:
        append(out, node.text);
        return Flow::normal;
      case NodeKind::output:
        append(out, eval(*node.expr).to_str());
        return Flow::normal;
      case NodeKind::if_block:
        return render_list(eval(*node.expr).truthy() ? node.body : node.else_body, out);
      case NodeKind::for_block:
        render_for(node, out);
        return Flow::normal;
      case NodeKind::set:
        assign(*node.target, eval(*node.expr));
        return Flow::normal;
      case NodeKind::set_block: {
        std::string captured;
        render_list(node.body, captured);
        Value value = Value::string(std::move(captured));
        if (node.expr)
          value = apply_filter_chain(*node.expr, value);
        assign(*node.target, value);
        return Flow::normal;
      }
      case NodeKind::macro:
        frame_->set(node.name, make_macro(node, frame_));
        return Flow::normal;
      case NodeKind::call_block:
        append(out, render_call_block(node).to_str());
        return Flow::normal;
      case NodeKind::filter_block: {
        std::string captured;
        render_list(node.body, captured);
        append(out, apply_filter_chain(*node.expr, Value::string(std::move(captured))).to_str());
        return Flow::normal;
      }
      case NodeKind::with_block: {
        std::vector<Value> values;
        for (const auto& assignment : node.assignments)
          values.push_back(eval(*assignment.second));
        ScopeGuard scope(*this, child_frame());
        for (size_t i = 0; i < values.size(); ++i)
          assign(*node.assignments[i].first, values[i]);
        return render_list(node.body, out);
      }
      case NodeKind::generation:
        return render_list(node.body, out);
      case NodeKind::break_loop:
        return Flow::break_loop;
      case NodeKind::continue_loop:
        return Flow::continue_loop;
    }
    return Flow::normal;
  }

  void render_for(const Node& node, std::string& out) {
    ValueList items = iterate(eval(*node.expr));
    if (node.condition) {
      // `for x in xs if cond`: filtered before the loop, so loop.length counts what remains.
      ValueList kept;
      for (const Value& item : items) {
        budget_.count_loop_iteration();
        ScopeGuard scope(*this, child_frame());
        assign(*node.target, item);
        if (eval(*node.condition).truthy())
          kept.push_back(item);
      }
      items = std::move(kept);
    }
    // Jinja2 runs the else block unless some iteration ran to the end of the body: an empty
    // loop, and also one whose every iteration left with break or continue.
    bool completed_an_iteration = false;
    auto changed_state = std::make_shared<std::pair<bool, ValueList>>(false, ValueList{});
    for (size_t i = 0; i < items.size(); ++i) {
      budget_.count_loop_iteration();
      ScopeGuard scope(*this, child_frame());
      assign(*node.target, items[i]);
      frame_->set("loop", make_loop(items, i, changed_state));
      Flow flow = render_list(node.body, out);
      if (flow == Flow::normal)
        completed_an_iteration = true;
      if (flow == Flow::break_loop)
        break;
    }
    if (!completed_an_iteration && !node.else_body.empty()) {
      ScopeGuard scope(*this, child_frame());
      render_list(node.else_body, out);
    }
  }

  // `changed_state` is the loop's, held weakly: loop.changed(loop) stores the loop object in it,
  // which must not keep itself alive.
  static Value make_loop(
      const ValueList& items,
      size_t i,
      const std::shared_ptr<std::pair<bool, ValueList>>& loop_state) {
    Value loop = Value::namespace_object(/*read_only=*/true);
    DictData& d = loop.dict_data();
    std::weak_ptr<std::pair<bool, ValueList>> changed_state = loop_state;
    int64_t n = static_cast<int64_t>(items.size());
    int64_t k = static_cast<int64_t>(i);
    auto set = [&](const char* name, Value v) {
      d.entries.emplace_back(Value::string(name), std::move(v));
    };
    set("index0", Value::integer(k));
    set("index", Value::integer(k + 1));
    set("revindex0", Value::integer(n - k - 1));
    set("revindex", Value::integer(n - k));
    set("first", Value::boolean(k == 0));
    set("last", Value::boolean(k == n - 1));
    set("length", Value::integer(n));
    set("depth", Value::integer(1));
    set("depth0", Value::integer(0));
    Value previous = k > 0 ? items[i - 1] : Value::undefined("there is no previous item");
    Value next = k + 1 < n ? items[i + 1] : Value::undefined("there is no next item");
    // Immutable once made: its nesting is that of the items it holds (a loop over a list that
    // holds the previous loop object chains them).
    const uint32_t depth = std::max(previous.nesting(), next.nesting()) + 1;
    const int limit = current_limits().max_render_depth;
    if (depth > static_cast<uint32_t>(limit)) {
      throw RenderError(
          RenderError::Kind::limit,
          "a value nested deeper than " + std::to_string(limit) + " levels");
    }
    d.depth = depth;
    set("previtem", std::move(previous));
    set("nextitem", std::move(next));
    set("cycle", Value::function("loop.cycle", [k](const CallArgs& args) {
          if (args.positional.empty())
            throw_type_error("no items for cycling given");
          return args.positional[static_cast<size_t>(k) % args.positional.size()];
        }));
    set("changed", Value::function("loop.changed", [changed_state](const CallArgs& args) {
          auto state = changed_state.lock();
          if (!state)  // the loop has ended (the object was kept): nothing to compare with
            return Value::boolean(true);
          bool differs = !state->first || state->second.size() != args.positional.size();
          for (size_t j = 0; !differs && j < args.positional.size(); ++j) {
            differs = !values_equal(state->second[j], args.positional[j]);
          }
          if (differs) {
            state->first = true;
            state->second = args.positional;
          }
          return Value::boolean(differs);
        }));
    return loop;
  }

  void assign(const Expr& target, const Value& value) {
    if (target.kind == ExprKind::name) {
      frame_->set(target.name, value);
      return;
    }
    if (target.kind == ExprKind::tuple) {
      ValueList items = iterate(value);
      if (items.size() != target.args.size()) {
        throw_type_error(
            items.size() > target.args.size()
                ? "too many values to unpack (expected " + std::to_string(target.args.size()) + ")"
                : "not enough values to unpack (expected " + std::to_string(target.args.size()) +
                      ", got " + std::to_string(items.size()) + ")");
      }
      for (size_t i = 0; i < items.size(); ++i)
        assign(*target.args[i], items[i]);
      return;
    }
    // {% set ns.attr = value %}
    const std::string& name = target.args[0]->name;
    const Value* object = frame_->find(name);
    if (object == nullptr || !object->is_namespace() || object->dict_data().read_only) {
      throw_type_error("cannot assign attribute on non-namespace object ('" + name + "')");
    }
    object->dict_data().set(Value::string(target.name), value);
  }

  Value apply_filter_chain(const Expr& filter, const Value& input) {
    Value subject = filter.args[0] ? apply_filter_chain(*filter.args[0], input) : input;
    CallArgs args = eval_args(filter, 1);
    try {
      return apply_filter(filter.name, subject, args);
    } catch (const RenderError& e) {
      fail_at(filter.position, e.kind(), e.what());
    }
  }

  // ---- macros ----
  // The scope a macro or caller closes over, held through a handle the renderer can reset.
  using Closure = std::shared_ptr<std::shared_ptr<Frame>>;
  Closure keep_closure(std::shared_ptr<Frame> frame) {
    if (closures_.size() >= prune_closures_at_) {
      // Handles no macro holds any more (only this list does) are dropped.
      closures_.erase(
          std::remove_if(
              closures_.begin(),
              closures_.end(),
              [](const Closure& closure) { return closure.use_count() == 1; }),
          closures_.end());
      prune_closures_at_ = std::max<size_t>(1024, 2 * closures_.size());
    }
    closures_.push_back(std::make_shared<std::shared_ptr<Frame>>(std::move(frame)));
    return closures_.back();
  }

  Value make_macro(const Node& node, std::shared_ptr<Frame> frame) {
    const Node* macro = &node;
    Closure closure = keep_closure(std::move(frame));
    return Value::function(node.name, [this, macro, closure](const CallArgs& args) {
      return call_macro(*macro, *closure, args, Value());
    });
  }

  Value call_macro(
      const Node& macro,
      const std::shared_ptr<Frame>& closure,
      const CallArgs& args,
      const Value& caller) {
    if (depth_ >= budget_.limits().max_call_depth) {
      throw RenderError(
          RenderError::Kind::limit,
          "macro calls nested deeper than " + std::to_string(budget_.limits().max_call_depth) +
              " (maximum macro recursion depth exceeded)");
    }
    std::string label = macro.kind == NodeKind::macro ? "macro '" + macro.name + "'" : "caller";
    auto frame = std::make_shared<Frame>();
    frame->parent = closure;
    size_t n = macro.params.size();
    if (args.positional.size() > n && !macro.uses_varargs) {
      throw_type_error(label + " takes not more than " + std::to_string(n) + " argument(s)");
    }
    std::vector<bool> given(n, false);
    for (size_t i = 0; i < args.positional.size() && i < n; ++i) {
      frame->set(macro.params[i].name, args.positional[i]);
      given[i] = true;
    }
    Value kwargs = Value::dict();
    bool caller_given = false;
    for (const auto& keyword : args.keywords) {
      size_t index = n;
      for (size_t i = 0; i < n; ++i) {
        if (macro.params[i].name == keyword.first)
          index = i;
      }
      if (index < n) {
        if (given[index])
          throw_type_error(label + " got multiple values for argument '" + keyword.first + "'");
        frame->set(keyword.first, keyword.second);
        given[index] = true;
      } else if (keyword.first == "caller" && macro.uses_caller) {
        frame->set("caller", keyword.second);
        caller_given = true;
      } else if (macro.uses_kwargs) {
        kwargs.dict_data().set(Value::string(keyword.first), keyword.second);
      } else {
        throw_type_error(label + " takes no keyword argument '" + keyword.first + "'");
      }
    }
    if (macro.uses_varargs) {
      ValueList extra;
      for (size_t i = n; i < args.positional.size(); ++i)
        extra.push_back(args.positional[i]);
      frame->set("varargs", Value::tuple(std::move(extra)));
    }
    if (macro.uses_kwargs)
      frame->set("kwargs", kwargs);
    if (macro.uses_caller && !caller_given) {
      frame->set("caller", caller.is_function() ? caller : Value::undefined("No caller defined"));
    }
    ScopeGuard scope(*this, frame);
    for (size_t i = 0; i < n; ++i) {
      if (given[i])
        continue;
      const MacroParam& param = macro.params[i];
      frame->set(
          param.name,
          param.default_value
              ? eval(*param.default_value)
              : Value::undefined("parameter '" + param.name + "' was not provided"));
    }
    ++depth_;
    std::string out;
    try {
      render_list(macro.body, out);
    } catch (...) {
      --depth_;
      throw;
    }
    --depth_;
    return Value::string(std::move(out));
  }

  Value render_call_block(const Node& node) {
    const Node* block = &node;
    Closure closure = keep_closure(frame_);
    Value caller = Value::function("caller", [this, block, closure](const CallArgs& args) {
      return call_macro(*block, *closure, args, Value());
    });
    const Expr& call = *node.expr;
    Value callee = eval(*call.args[0]);
    CallArgs args = eval_args(call, 1);
    args.keywords.emplace_back("caller", caller);
    try {
      return call_value(callee, args);
    } catch (const RenderError& e) {
      fail_at(call.position, e.kind(), e.what());
    }
  }

  // ---- expressions ----
  Value eval(const Expr& expr) {
    try {
      DepthGuard depth(*this);
      budget_.charge(kStepUnits);
      Value value = eval_inner(expr);
      charge_size(value);
      return value;
    } catch (const RenderError& e) {
      fail_at(expr.position, e.kind(), e.what());
    } catch (const LocatedError&) {
      throw;
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      fail_at(expr.position, RenderError::Kind::type, e.what());
    }
  }

  // Every value an expression produces is charged by its size: building it, or reading it where
  // an operator or filter then walks it, costs about that much.
  void charge_size(const Value& value) {
    if (value.is_string()) {
      check_string_size(value.str().size());
    } else if (value.is_sequence()) {
      check_list_size(value.items().size());
    } else if (value.is_dict() || value.is_namespace()) {
      check_list_size(value.dict_data().entries.size());
    }
  }

  CallArgs eval_args(const Expr& expr, size_t first) {
    CallArgs args;
    for (size_t i = first; i < expr.args.size(); ++i)
      args.positional.push_back(eval(*expr.args[i]));
    for (const auto& keyword : expr.kwargs)
      args.keywords.emplace_back(keyword.first, eval(*keyword.second));
    return args;
  }

  Value lookup(const std::string& name) {
    const Value* found = frame_->find(name);
    if (found != nullptr)
      return *found;
    return Value::undefined("'" + name + "' is undefined");
  }

  Value eval_inner(const Expr& expr) {
    switch (expr.kind) {
      case ExprKind::literal:
        return expr.value;
      case ExprKind::name:
        return lookup(expr.name);
      case ExprKind::list:
      case ExprKind::tuple: {
        ValueList items;
        for (const ExprPtr& item : expr.args)
          items.push_back(eval(*item));
        return expr.kind == ExprKind::list ? Value::list(std::move(items))
                                           : Value::tuple(std::move(items));
      }
      case ExprKind::dict: {
        Value dict = Value::dict();
        for (size_t i = 0; i + 1 < expr.args.size(); i += 2) {
          Value key = eval(*expr.args[i]);
          if (key.kind() == ValueKind::list || key.is_dict() || key.is_undefined()) {
            throw_type_error("unhashable type: '" + key.type_name() + "'");
          }
          dict.dict_data().set(key, eval(*expr.args[i + 1]));
        }
        return dict;
      }
      case ExprKind::attribute:
        return get_attribute(eval(*expr.args[0]), expr.name);
      case ExprKind::item: {
        Value object = eval(*expr.args[0]);
        return get_item(object, eval(*expr.args[1]));
      }
      case ExprKind::slice: {
        Value object = eval(*expr.args[0]);
        auto part = [&](size_t i) { return expr.args[i] ? eval(*expr.args[i]) : Value::none(); };
        Value start = part(1), stop = part(2), step = part(3);
        return get_slice(object, start, stop, step);
      }
      case ExprKind::call: {
        Value callee = eval(*expr.args[0]);
        return call_value(callee, eval_args(expr, 1));
      }
      case ExprKind::filter:
        return apply_filter(expr.name, eval(*expr.args[0]), eval_args(expr, 1));
      case ExprKind::test: {
        Value subject = eval(*expr.args[0]);
        return Value::boolean(apply_test(expr.name, subject, eval_args(expr, 1)) != expr.negated);
      }
      case ExprKind::unary: {
        Value operand = eval(*expr.args[0]);
        if (expr.name == "not")
          return Value::boolean(!operand.truthy());
        return unary_operation(expr.name, operand);
      }
      case ExprKind::binary: {
        Value left = eval(*expr.args[0]);
        if (expr.name == "and")
          return left.truthy() ? eval(*expr.args[1]) : left;
        if (expr.name == "or")
          return left.truthy() ? left : eval(*expr.args[1]);
        return binary_operation(expr.name, left, eval(*expr.args[1]));
      }
      case ExprKind::compare: {
        Value left = eval(*expr.args[0]);
        for (size_t i = 0; i < expr.ops.size(); ++i) {
          Value right = eval(*expr.args[i + 1]);
          if (!compare_values(expr.ops[i], left, right))
            return Value::boolean(false);
          left = std::move(right);
        }
        return Value::boolean(true);
      }
      case ExprKind::condition: {
        if (eval(*expr.args[1]).truthy())
          return eval(*expr.args[0]);
        if (expr.args[2])
          return eval(*expr.args[2]);
        return Value::undefined(
            "the inline if-expression on line " + std::to_string(expr.position.line) +
            " evaluated to false and no else section was defined.");
      }
    }
    throw RenderError(RenderError::Kind::unsupported, "unknown expression");
  }

  const std::string& origin_;
  std::shared_ptr<Frame> frame_;
  RenderBudget& budget_;
  std::vector<Closure> closures_;
  size_t prune_closures_at_ = 1024;
  const std::string* output_ = nullptr;  // the rendered text (other strings are captures)
  int depth_ = 0;                        // macro calls
  int render_depth_ = 0;                 // statements and expressions being evaluated
};

}  // namespace

std::string render_nodes(
    const NodeList& nodes,
    const std::string& origin,
    std::shared_ptr<Frame> globals,
    const Limits& limits) {
  RenderBudget budget(limits);
  auto top = std::make_shared<Frame>();
  top->parent = std::move(globals);
  return Renderer(origin, top, budget).run(nodes);
}

}  // namespace dpo::jinja
