// Names, parsing and range checks of LossConfig.
#include "losses/loss_config.h"

#include <cmath>

#include "core/error.h"

namespace dpo {
namespace {

struct NamedType {
  LossType type;
  const char* name;
};

const NamedType kNames[] = {
    {LossType::sigmoid, "sigmoid"},
    {LossType::robust, "robust"},
    {LossType::ipo, "ipo"},
    {LossType::hinge, "hinge"},
    {LossType::exo_pair, "exo_pair"},
    {LossType::nca_pair, "nca_pair"},
    {LossType::sppo_hard, "sppo_hard"},
    {LossType::bco_pair, "bco_pair"},
    {LossType::apo_zero, "apo_zero"},
    {LossType::apo_down, "apo_down"},
    {LossType::discopop, "discopop"},
    {LossType::sigmoid_norm, "sigmoid_norm"},
    {LossType::simpo, "simpo"},
    {LossType::sft, "sft"},
};

std::string known_names() {
  std::string names;
  for (const auto& entry : kNames) {
    if (!names.empty())
      names += ", ";
    names += entry.name;
  }
  return names;
}

}  // namespace

const char* loss_type_name(LossType type) {
  for (const auto& entry : kNames) {
    if (entry.type == type)
      return entry.name;
  }
  return "unknown";
}

LossType parse_loss_type(std::string_view name) {
  for (const auto& entry : kNames) {
    if (name == entry.name)
      return entry.type;
  }
  throw ConfigError(
      "unknown loss type '" + std::string(name) + "'", "known loss types: " + known_names());
}

const std::vector<LossType>& all_loss_types() {
  static const std::vector<LossType> types = [] {
    std::vector<LossType> out;
    for (const auto& entry : kNames)
      out.push_back(entry.type);
    return out;
  }();
  return types;
}

bool is_reference_free(LossType type) {
  return type == LossType::simpo || type == LossType::sft;
}

double loss_weight(const LossConfig& config, size_t i) {
  return config.weights.empty() ? 1.0 : config.weights.at(i);
}

void validate_loss_config(const LossConfig& config, const std::string& section) {
  const std::string p = section + ".";
  if (config.types.empty()) {
    throw ConfigError(p + "types is empty", "name at least one loss, e.g. [\"sigmoid\"]");
  }
  if (!(config.beta > 0) || !std::isfinite(config.beta)) {
    throw ConfigError(
        p + "beta = " + std::to_string(config.beta) + " must be > 0",
        "typical values: 0.01 to 0.5");
  }
  if (!(config.label_smoothing >= 0 && config.label_smoothing < 0.5)) {
    throw ConfigError(
        p + "label_smoothing = " + std::to_string(config.label_smoothing) + " must be in [0, 0.5)",
        "it is the assumed rate of flipped labels; 0 turns it off");
  }
  if (!(config.discopop_tau > 0) || !std::isfinite(config.discopop_tau)) {
    throw ConfigError(p + "discopop_tau must be > 0", "TRL's default is 0.05");
  }
  if (!std::isfinite(config.simpo_gamma)) {
    throw ConfigError(p + "simpo_gamma must be finite", "the SimPO paper uses 0.5 to 1.6");
  }
  if (!config.weights.empty() && config.weights.size() != config.types.size()) {
    throw ConfigError(
        p + "weights has " + std::to_string(config.weights.size()) + " entries but " + p +
            "types has " + std::to_string(config.types.size()),
        "give one weight per loss type, or leave weights empty for 1 each");
  }
  for (double w : config.weights) {
    if (!std::isfinite(w) || w < 0) {
      throw ConfigError(p + "weights must be finite and >= 0", "e.g. [1.0, 0.2]");
    }
  }
}

}  // namespace dpo
