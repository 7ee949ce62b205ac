// Walks a parsed template and produces its text: scopes as Jinja2 defines them (a for loop's
// body and a macro have their own, if blocks do not), loops with the `loop` object,
// break/continue, macros and call blocks, and the position of the node where an error arose.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "templates/jinja/ast.h"
#include "templates/jinja/limits.h"
#include "templates/jinja/value.h"

namespace dpo::jinja {

// One scope: its variables and the scope it sits in.
struct Frame {
  std::vector<std::pair<std::string, Value>> vars;
  std::shared_ptr<Frame> parent;
  const Value* find(const std::string& name) const;
  void set(const std::string& name, Value value);
};

// Renders `nodes` with `globals` as the outermost scope, within `limits`. Throws DataError
// naming origin:line:column (and the limit, when one was exceeded).
std::string render_nodes(
    const NodeList& nodes,
    const std::string& origin,
    std::shared_ptr<Frame> globals,
    const Limits& limits = Limits());

}  // namespace dpo::jinja
