// The work limits of template rendering (see limits.h).
#include "templates/jinja/limits.h"

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

}  // namespace dpo::jinja
