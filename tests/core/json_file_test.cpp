#include "core/json_file.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "core/error.h"

namespace dpo {
namespace {

TEST(JsonFile, ParsesAValue) {
  nlohmann::json value = parse_json_file_text(R"({"a": [1, 2]})", "m/x.json");
  EXPECT_EQ(value["a"][1], 2);
}

TEST(JsonFile, BadJsonNamesTheFileAndThePlace) {
  try {
    parse_json_file_text("{\"a\": ", "m/tokenizer_config.json");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("'m/tokenizer_config.json' is not valid JSON"), std::string::npos)
        << message;
    EXPECT_NE(message.find("line 1, column 7"), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace dpo
