// The work limits of template rendering (see limits.h).
#include "templates/jinja/limits.h"

#include <algorithm>
#include <utility>

#include "templates/jinja/value.h"

namespace dpo::jinja {

namespace {

thread_local RenderBudget* g_current = nullptr;

[[noreturn]] void exceeded(const std::string& message) {
  throw RenderError(RenderError::Kind::limit, message);
}

}  // namespace

std::string byte_size_text(uint64_t bytes) {
  if (bytes >= (1ull << 20) && bytes % (1ull << 20) == 0)
    return std::to_string(bytes >> 20) + " MiB";
  if (bytes >= (1ull << 10) && bytes % (1ull << 10) == 0)
    return std::to_string(bytes >> 10) + " KiB";
  return std::to_string(bytes) + " bytes";
}

RenderBudget::RenderBudget(const Limits& limits) : limits_(limits), previous_(g_current) {
  g_current = this;
}

RenderBudget::~RenderBudget() {
  g_current = previous_;
  // Empty every namespace while all of them are still held here: freeing their contents then
  // never reaches a namespace's own destructor, so it recurses no deeper than a list nests.
  for (const std::shared_ptr<DictData>& ns : namespaces_) {
    std::vector<std::pair<Value, Value>> entries = std::move(ns->entries);
    ns->entries.clear();
  }
}

void RenderBudget::keep_namespace(std::shared_ptr<DictData> ns) {
  if (namespaces_.size() >= prune_at_) {
    release_unreachable_namespaces();
    prune_at_ = std::max<size_t>(1024, 2 * namespaces_.size());
  }
  namespaces_.push_back(std::move(ns));
}

void RenderBudget::release_unreachable_namespaces() {
  // Held only here: nothing can reach them any more (a cycle through themselves aside, which
  // emptying breaks).
  for (std::shared_ptr<DictData>& ns : namespaces_) {
    if (ns.use_count() == 1) {
      std::vector<std::pair<Value, Value>> entries = std::move(ns->entries);
      ns->entries.clear();
    }
  }
  // A namespace emptied above may have been the last holder of another one; those go on the
  // next round. Removing the freed ones now is safe: they are empty.
  namespaces_.erase(
      std::remove_if(
          namespaces_.begin(),
          namespaces_.end(),
          [](const std::shared_ptr<DictData>& ns) { return ns.use_count() == 1; }),
      namespaces_.end());
}

void RenderBudget::charge(uint64_t units) {
  if (units > limits_.max_work - work_ || work_ > limits_.max_work) {
    work_ = limits_.max_work + 1;
    exceeded(
        "the template exceeded the work limit of " + std::to_string(limits_.max_work) +
        " units (it builds or reads too much, e.g. a string rebuilt in a long loop)");
  }
  work_ += units;
}

void RenderBudget::count_loop_iteration() {
  if (++loop_iterations_ > limits_.max_loop_iterations) {
    exceeded(
        "the template ran more than " + std::to_string(limits_.max_loop_iterations) +
        " loop iterations");
  }
}

const Limits& current_limits() {
  static const Limits kDefaults;
  return g_current != nullptr ? g_current->limits() : kDefaults;
}

void check_string_growth(uint64_t bytes) {
  const uint64_t limit = current_limits().max_string_bytes;
  if (bytes > limit) {
    exceeded(
        "a string of " +
        (bytes == UINT64_MAX ? std::string("more than 2^64") : std::to_string(bytes)) +
        " bytes exceeds the limit of " + byte_size_text(limit) + " for one string");
  }
}

void check_string_size(uint64_t bytes) {
  check_string_growth(bytes);
  charge_work(bytes);
}

void check_list_size(uint64_t items) {
  const uint64_t limit = current_limits().max_list_items;
  if (items > limit) {
    exceeded(
        "a list of " + std::to_string(items) + " items exceeds the limit of " +
        std::to_string(limit) + " items");
  }
  charge_work(items);
}

void charge_work(uint64_t units) {
  if (g_current != nullptr)
    g_current->charge(units);
}

void keep_namespace(const std::shared_ptr<DictData>& ns) {
  if (g_current != nullptr)
    g_current->keep_namespace(ns);
}

}  // namespace dpo::jinja
