// The JSON files of a model folder and a run folder go through core/json_file: a duplicate key
// (a tensor or a config key given twice) or a syntax error is refused with the file, the line,
// the column and the reason, as the error type of that file (issue 20, items 8 and 17).
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "core/error.h"
#include "model/model_config.h"
#include "model/safetensors_header.h"
#include "trainer/train_state.h"

namespace dpo {
namespace {

template <class E, class F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("wrong exception type: ") + e.what();
  }
  return "(no error)";
}

// A whole safetensors file: 8-byte little-endian header length, the header, `data_bytes` zeros.
std::string safetensors_file(const std::string& header, size_t data_bytes) {
  std::string bytes(8, '\0');
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i)
    bytes[i] = static_cast<char>((n >> (8 * i)) & 0xFF);
  return bytes + header + std::string(data_bytes, '\0');
}

TEST(JsonInputs, SafetensorsHeaderWithATensorTwiceIsRefused) {
  const std::string header = R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},)"
                             "\n"
                             R"( "w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})";
  const std::string file = safetensors_file(header, 8);
  const std::string m = message_of<CheckpointError>(
      [&] { parse_safetensors_header(file, file.size(), "m/model.safetensors"); });
  EXPECT_NE(
      m.find("safetensors 'm/model.safetensors': header is not a valid UTF-8 JSON object: "
             "duplicate key 'w' at line 2, column 2 (first at line 1, column 2)"),
      std::string::npos)
      << m;
}

TEST(JsonInputs, SafetensorsHeaderSyntaxErrorsSayWhere) {
  const std::string file = safetensors_file("{\"w\": {\"dtype\": \"F32\", \"shape\": [1],}}", 4);
  const std::string m = message_of<CheckpointError>(
      [&] { parse_safetensors_header(file, file.size(), "x.safetensors"); });
  EXPECT_NE(
      m.find("a trailing comma before '}' (not allowed in JSON) at line 1, column 37"),
      std::string::npos)
      << m;
  const std::string surrogate = safetensors_file(R"({"\udc00": {}})", 0);
  EXPECT_NE(
      message_of<CheckpointError>([&] {
        parse_safetensors_header(surrogate, surrogate.size(), "x.safetensors");
      }).find("lone surrogate \\udc00"),
      std::string::npos);
}

TEST(JsonInputs, ModelConfigSyntaxErrorsNameLineAndColumn) {
  std::string m = message_of<ConfigError>([] {
    parse_model_config("{\n  \"vocab_size\": 32,\n  \"hidden_size\" 64\n}", "m/config.json");
  });
  EXPECT_NE(
      m.find("'m/config.json' is not valid JSON: expected ':' after the key 'hidden_size', found "
             "'6' at line 3, column 17"),
      std::string::npos)
      << m;
  m = message_of<ConfigError>([] {
    parse_model_config(R"({"vocab_size": 32, "num_hidden_layers": 2, "vocab_size": 64})", "c.json");
  });
  EXPECT_NE(m.find("duplicate key 'vocab_size' at line 1, column 44"), std::string::npos) << m;
  m = message_of<ConfigError>([] { parse_model_config("\xEF\xBB\xBF\xEF\xBB\xBF{}", "c.json"); });
  EXPECT_NE(
      m.find("byte 0xEF (a UTF-8 BOM) where a value was expected at line 1, column 2"),
      std::string::npos)
      << m;
}

TEST(JsonInputs, TrainStateRefusalsAreCheckpointErrorsWithThePlace) {
  std::string m = message_of<CheckpointError>([] {
    train_state_from_json_text("{\"step\": 3,\n\"step\": 9999}", "run/step-3/trainer_state.json");
  });
  EXPECT_NE(
      m.find("'run/step-3/trainer_state.json' is not valid JSON: duplicate key 'step' at line 2, "
             "column 1 (first at line 1, column 2)"),
      std::string::npos)
      << m;
  m = message_of<CheckpointError>([] { train_state_from_json_text("{\"step\": 3", "s.json"); });
  EXPECT_NE(m.find("the text ends inside an object at line 1, column 11"), std::string::npos) << m;
  m = message_of<CheckpointError>([] { train_state_from_json_text("", "s.json"); });
  EXPECT_NE(m.find("the text is empty"), std::string::npos) << m;
}

}  // namespace
}  // namespace dpo
