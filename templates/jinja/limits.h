// Bounds on the work one template does: a template is input (it comes with a model folder),
// so parsing and rendering must end, quickly and in bounded memory, whatever it says. Every
// limit is generous for real chat templates (the largest render a long conversation in well
// under 1 MB of text and 100k steps) and reported by name when hit (docs/chat-templates.md).
//
// Rendering counts its work in a RenderBudget that Template::render installs for the calling
// thread; operators, filters and methods consult it through the free functions below, so that
// a string or list that would exceed a limit is refused before it is built.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace dpo::jinja {

struct DictData;

struct Limits {
  // The rendered text.
  uint64_t max_output_bytes = 16ull << 20;
  // One string built while rendering (by an operator, filter, method, {% set %} block or macro).
  uint64_t max_string_bytes = 16ull << 20;
  // One list, tuple or dict built while rendering.
  uint64_t max_list_items = 1ull << 20;
  // for-loop iterations, all loops of one rendering together.
  uint64_t max_loop_iterations = 1'000'000;
  // Work units of one rendering: each expression or statement evaluated costs 16, each byte of
  // a string and each item of a list an expression produces costs 1 (so work is bounded even
  // where every single value stays small, e.g. a string rebuilt in a long loop).
  // (The built-in templates render a 2000-turn, 1 MB conversation in about 16M units.)
  uint64_t max_work = 250'000'000;
  // Macro (and caller) calls nested in one another.
  int max_call_depth = 256;
  // Parsing: expressions and blocks nested in one another (parentheses, operators, filters).
  int max_nesting_depth = 256;
  // Rendering: statements and expressions being evaluated at once, macro calls included, and
  // lists, dicts and namespaces nested in one another in a value.
  int max_render_depth = 2048;
};

// The counters of one rendering; becomes the current budget of this thread for its lifetime.
class RenderBudget {
 public:
  explicit RenderBudget(const Limits& limits);
  ~RenderBudget();
  RenderBudget(const RenderBudget&) = delete;
  RenderBudget& operator=(const RenderBudget&) = delete;

  const Limits& limits() const {
    return limits_;
  }
  void charge(uint64_t units);
  void count_loop_iteration();

  uint64_t work() const {
    return work_;
  }
  uint64_t loop_iterations() const {
    return loop_iterations_;
  }

  // Namespaces are the only containers a template can change after making them, so the only
  // way to a cycle (ns.me = ns) or to a chain deeper than any list (ns.next = namespace(...)).
  // The budget keeps each one it sees made and empties them all, one by one, when the
  // rendering ends: nothing leaks and nothing is freed recursively.
  void keep_namespace(std::shared_ptr<DictData> ns);

 private:
  void release_unreachable_namespaces();

  Limits limits_;
  uint64_t work_ = 0;
  uint64_t loop_iterations_ = 0;
  std::vector<std::shared_ptr<DictData>> namespaces_;
  size_t prune_at_ = 1024;
  RenderBudget* previous_;
};

// The limits of the rendering running on this thread (the defaults when none is).
const Limits& current_limits();
// Throws a RenderError of kind `limit` when a string of `bytes` would exceed max_string_bytes;
// otherwise charges them to the running rendering's work.
void check_string_size(uint64_t bytes);
// The limit check alone, for a string being built piece by piece (charged once it is done).
void check_string_growth(uint64_t bytes);
// The same for a list, tuple or dict of `items`.
void check_list_size(uint64_t items);
// Charges `units` of work to the running rendering (nothing when none is running).
void charge_work(uint64_t units);
// Hands a new namespace to the running rendering (see RenderBudget::keep_namespace).
void keep_namespace(const std::shared_ptr<DictData>& ns);
// "16 MiB" for 16777216, else the number of bytes.
std::string byte_size_text(uint64_t bytes);

}  // namespace dpo::jinja
