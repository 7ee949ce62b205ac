// Loss names and the range checks of LossConfig.
#include "losses/loss_config.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace dpo {
namespace {

TEST(LossConfig, EveryNameRoundTrips) {
  EXPECT_EQ(all_loss_types().size(), 14u);
  for (LossType type : all_loss_types()) {
    EXPECT_EQ(parse_loss_type(loss_type_name(type)), type);
  }
  EXPECT_EQ(parse_loss_type("sppo_hard"), LossType::sppo_hard);
}

TEST(LossConfig, UnknownNameListsTheKnownOnes) {
  try {
    parse_loss_type("kto");
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("'kto'"), std::string::npos);
    EXPECT_NE(e.hint().find("sigmoid, robust, ipo"), std::string::npos);
  }
}

TEST(LossConfig, OnlySimpoAndSftAreReferenceFree) {
  for (LossType type : all_loss_types()) {
    EXPECT_EQ(is_reference_free(type), type == LossType::simpo || type == LossType::sft)
        << loss_type_name(type);
  }
}

TEST(LossConfig, DefaultsAreValid) {
  EXPECT_NO_THROW(validate_loss_config(LossConfig{}));
}

void expect_invalid(const LossConfig& c, const std::string& key) {
  try {
    validate_loss_config(c);
    FAIL() << "no error for " << key;
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
  }
}

TEST(LossConfig, RangesAreChecked) {
  LossConfig c;
  c.beta = 0;
  expect_invalid(c, "loss.beta");
  c = {};
  c.label_smoothing = 0.5;  // robust would divide by zero
  expect_invalid(c, "loss.label_smoothing");
  c = {};
  c.label_smoothing = -0.1;
  expect_invalid(c, "loss.label_smoothing");
  c = {};
  c.discopop_tau = 0;
  expect_invalid(c, "loss.discopop_tau");
  c = {};
  c.types.clear();
  expect_invalid(c, "loss.types");
  c = {};
  c.types = {LossType::sigmoid, LossType::sft};
  c.weights = {1.0};
  expect_invalid(c, "loss.weights");
  c.weights = {1.0, -1.0};
  expect_invalid(c, "loss.weights");
}

TEST(LossConfig, WeightDefaultsToOne) {
  LossConfig c;
  c.types = {LossType::sigmoid, LossType::sft};
  EXPECT_EQ(loss_weight(c, 1), 1.0);
  c.weights = {1.0, 0.25};
  EXPECT_EQ(loss_weight(c, 1), 0.25);
}

}  // namespace
}  // namespace dpo
