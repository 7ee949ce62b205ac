// safetensors: round trips, the memory-mapped reader's checks on malformed files, sharding.
#include "model/safetensors.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "core/error.h"
#include "tests/support/test_support.h"

namespace dpo {
namespace {

using testing::TempDir;

// A file made by hand: the 8-byte little-endian length, the header text, the data bytes.
std::string handmade(
    const std::string& header, const std::string& data, uint64_t length_field = UINT64_MAX) {
  uint64_t len = length_field == UINT64_MAX ? header.size() : length_field;
  std::string out(8, '\0');
  std::memcpy(&out[0], &len, 8);
  return out + header + data;
}

// Expects a CheckpointError whose message contains `fragment` when opening `bytes` as a file.
void expect_rejected(const std::string& bytes, const std::string& fragment) {
  TempDir dir;
  testing::write_file(dir.file("bad.safetensors"), bytes);
  try {
    SafeTensorsFile file(dir.file("bad.safetensors"));
    ADD_FAILURE() << "accepted a malformed file; expected: " << fragment;
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("bad.safetensors"), std::string::npos) << e.what();
  }
}

TEST(SafeTensors, RoundTripOfEveryDtypeAndMetadata) {
  TempDir dir;
  NamedTensors tensors = {
      {"a.f32", at::arange(12, at::kFloat).view({3, 4})},
      {"b.f16", at::linspace(-1, 1, 5).to(at::kHalf)},
      {"c.bf16", at::linspace(-3, 3, 6).to(at::kBFloat16).view({2, 3})},
      {"d.i64", at::tensor(std::vector<int64_t>{int64_t{1} << 40, -5})},
      {"e.i32", at::tensor(std::vector<int32_t>{7, 8, 9})},
      {"f.empty", at::empty({0, 3}, at::kFloat)},
      {"g.scalar", at::scalar_tensor(2.5, at::kFloat)}};
  write_safetensors(dir.file("x.safetensors"), tensors, {{"format", "pt"}, {"note", "ünïcode"}});

  at::Tensor kept;
  {
    SafeTensorsFile file(dir.file("x.safetensors"));
    EXPECT_EQ(file.header().metadata.at("note"), "ünïcode");
    EXPECT_EQ(file.header().data_offset % 8, 0u);
    ASSERT_EQ(file.names().size(), tensors.size());
    for (const auto& [name, expected] : tensors) {
      at::Tensor got = file.tensor(name);
      EXPECT_EQ(got.scalar_type(), expected.scalar_type()) << name;
      EXPECT_EQ(got.sizes(), expected.sizes()) << name;
      EXPECT_TRUE(at::equal(got, expected)) << name;
    }
    kept = file.tensor("a.f32");
  }
  // The tensor keeps the mapping alive after the file object is gone.
  EXPECT_TRUE(at::equal(kept, at::arange(12, at::kFloat).view({3, 4})));
  // Writing into a view changes neither the file nor a fresh read.
  kept.fill_(0);
  EXPECT_EQ(SafeTensorsFile(dir.file("x.safetensors")).tensor("a.f32")[2][3].item<float>(), 11.0f);
}

TEST(SafeTensors, BytesMatchTheWrittenFile) {
  TempDir dir;
  NamedTensors tensors = {{"w", at::ones({2, 2})}};
  write_safetensors(dir.file("x.safetensors"), tensors);
  EXPECT_EQ(testing::read_file(dir.file("x.safetensors")), safetensors_bytes(tensors));
}

TEST(SafeTensors, UnalignedDataIsCopied) {
  // A 2-byte header pad is legal but leaves F32 data unaligned: the reader copies it.
  std::string data(8, '\0');
  float values[2] = {1.5f, -2.0f};
  std::memcpy(&data[0], values, 8);
  TempDir dir;
  testing::write_file(
      dir.file("u.safetensors"),
      handmade(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}} )", data));
  SafeTensorsFile file(dir.file("u.safetensors"));
  at::Tensor x = file.tensor("x");
  EXPECT_FLOAT_EQ(x[0].item<float>(), 1.5f);
  EXPECT_FLOAT_EQ(x[1].item<float>(), -2.0f);
}

TEST(SafeTensors, RejectsMalformedFiles) {
  const std::string ok_header = R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  const std::string data(8, '\0');
  expect_rejected("", "too short");
  expect_rejected("abc", "too short");
  // Truncated: the data section lacks bytes.
  expect_rejected(handmade(ok_header, data).substr(0, 8 + ok_header.size() + 5), "past the end");
  // Header length larger than the file.
  expect_rejected(handmade(ok_header, data, ok_header.size() + 100), "runs past the end");
  expect_rejected(handmade(ok_header, data, uint64_t{1} << 62), "100 MB");
  // Overlapping offsets.
  expect_rejected(
      handmade(
          R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
          R"("y":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
          data),
      "overlaps");
  // A gap, an offset not starting at 0, trailing bytes.
  expect_rejected(
      handmade(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", data), "gap");
  expect_rejected(handmade(ok_header, data + "xx"), "trailing bytes");
  // A shape whose byte size overflows 64 bits.
  expect_rejected(
      handmade(
          R"({"x":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", data),
      "overflows");
  expect_rejected(
      handmade(R"({"x":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,8]}})", data),
      "overflows");
  // Byte length that does not match shape x dtype.
  expect_rejected(
      handmade(R"({"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", data), "needs 12");
  // Unknown and unsupported dtypes.
  expect_rejected(
      handmade(R"({"x":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}})", data), "dtype 'Q4'");
  expect_rejected(
      handmade(R"({"x":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}})", data), "dtype 'F64'");
  // Not JSON, not an object, invalid UTF-8, wrong types, unknown fields.
  expect_rejected(handmade("{\"x\": [", data), "not a valid UTF-8 JSON object");
  expect_rejected(handmade("[1, 2]", data), "does not start with '{'");
  expect_rejected(handmade("{\"\xff\xfe\":{}}", data), "UTF-8");
  expect_rejected(
      handmade(R"({"x":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", data), "not a size");
  expect_rejected(
      handmade(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", data), "end before");
  expect_rejected(
      handmade(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"extra":1}})", data),
      "unknown field 'extra'");
  expect_rejected(
      handmade(
          R"({"__metadata__":{"a":1},"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", data),
      "not a string");
}

TEST(SafeTensors, HeaderParserWorksOnBytesInMemory) {
  std::string file = handmade(
      R"({"__metadata__":{"k":"v"},"x":{"dtype":"BF16","shape":[2,2],"data_offsets":[0,8]}})",
      std::string(8, '\0'));
  SafeTensorsHeader header = parse_safetensors_header(file, file.size(), "memory");
  ASSERT_EQ(header.tensors.size(), 1u);
  EXPECT_EQ(header.tensors[0].dtype, SafeDType::BF16);
  EXPECT_EQ(header.tensors[0].shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(header.metadata.at("k"), "v");
}

TEST(SafeTensors, ShardedCheckpointRoundTrip) {
  TempDir dir;
  NamedTensors tensors;
  for (int i = 0; i < 5; ++i)
    tensors.emplace_back("t" + std::to_string(i), at::full({10}, float(i)));
  // 40 bytes per tensor, at most 100 bytes per shard: shards of 2, 2 and 1 tensors.
  std::vector<std::string> files = write_safetensors_checkpoint(dir.path(), tensors, 100);
  EXPECT_EQ(
      files,
      (std::vector<std::string>{
          "model-00001-of-00003.safetensors",
          "model-00002-of-00003.safetensors",
          "model-00003-of-00003.safetensors",
          "model.safetensors.index.json"}));
  SafeTensorsCheckpoint checkpoint(dir.path());
  EXPECT_TRUE(checkpoint.sharded());
  EXPECT_EQ(checkpoint.files().size(), 3u);
  for (const auto& [name, expected] : tensors)
    EXPECT_TRUE(at::equal(checkpoint.tensor(name), expected)) << name;

  // Small enough: one model.safetensors and no index.
  TempDir single;
  EXPECT_EQ(
      write_safetensors_checkpoint(single.path(), tensors, 1000),
      std::vector<std::string>{"model.safetensors"});
  EXPECT_FALSE(SafeTensorsCheckpoint(single.path()).sharded());
}

TEST(SafeTensors, ShardedIndexMustMatchTheShards) {
  TempDir dir;
  // Shard 1 holds a and b, shard 2 holds c.
  NamedTensors tensors = {{"a", at::ones({4})}, {"b", at::ones({4})}, {"c", at::ones({4})}};
  write_safetensors_checkpoint(dir.path(), tensors, 32);
  const std::string index = dir.file("model.safetensors.index.json");
  auto expect_error = [&](const std::string& text, const std::string& fragment) {
    testing::write_file(index, text);
    try {
      SafeTensorsCheckpoint checkpoint(dir.path());
      ADD_FAILURE() << "accepted " << text;
    } catch (const CheckpointError& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  };
  expect_error(
      R"({"weight_map":{"a":"model-00001-of-00002.safetensors","c":"model-00002-of-00002.safetensors"}})",
      "holds tensor 'b'");
  expect_error(
      R"({"weight_map":{"a":"model-00001-of-00002.safetensors","b":"model-00001-of-00002.safetensors",)"
      R"("c":"model-00001-of-00002.safetensors"}})",
      "which does not hold it");
  expect_error(R"({"weight_map":{"a":"../x.safetensors"}})", "not a plain file name");
  expect_error(R"({"weights":{}})", "not a valid safetensors index");
  TempDir empty;
  EXPECT_THROW(SafeTensorsCheckpoint checkpoint(empty.path()), CheckpointError);
}

// A tensor declared twice across a checkpoint, in the index or in two shards, is refused by
// name (nlohmann's parser alone would keep the last of two equal keys).
TEST(SafeTensors, ATensorDeclaredTwiceAcrossShardsIsRefusedByName) {
  TempDir dir;
  NamedTensors tensors = {{"a", at::ones({4})}, {"b", at::ones({4})}, {"c", at::ones({4})}};
  write_safetensors_checkpoint(dir.path(), tensors, 32);
  const std::string index = dir.file("model.safetensors.index.json");
  const std::string shard1 = "model-00001-of-00002.safetensors";
  const std::string shard2 = "model-00002-of-00002.safetensors";
  auto expect_error = [&](const std::string& fragment) {
    try {
      SafeTensorsCheckpoint checkpoint(dir.path());
      ADD_FAILURE() << "accepted; expected " << fragment;
    } catch (const CheckpointError& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  };
  // The same key twice in weight_map, to the same shard and to two shards.
  for (const std::string& second : {shard1, shard2}) {
    testing::write_file(
        index,
        R"({"weight_map":{"a":")" + shard1 + R"(","b":")" + shard1 + R"(","c":")" + shard2 +
            R"(","a":")" + second + R"("}})");
    expect_error(index + "': weight_map names tensor 'a' twice");
  }
  // A key repeated elsewhere in the index (metadata) is no tensor name: still accepted.
  testing::write_file(
      index,
      R"({"metadata":{"a":1,"a":2},"weight_map":{"a":")" + shard1 + R"(","b":")" + shard1 +
          R"(","c":")" + shard2 + R"("}})");
  EXPECT_NO_THROW(SafeTensorsCheckpoint checkpoint(dir.path()));
  // Shard 2 also holds "a", which the index maps to shard 1.
  write_safetensors(dir.file(shard2), {{"a", at::zeros({4})}, {"c", at::ones({4})}});
  expect_error("tensor 'a' is in two shards: '");
  // And with the shards read in the other order (the copy in the first shard unmapped).
  testing::write_file(
      index,
      R"({"weight_map":{"a":")" + shard2 + R"(","b":")" + shard1 + R"(","c":")" + shard2 +
          R"("}})");
  expect_error("tensor 'a' is in two shards: '");
}

TEST(SafeTensors, WriterRejectsDuplicateNamesAndUnsupportedTypes) {
  TempDir dir;
  EXPECT_THROW(
      write_safetensors(dir.file("a"), {{"x", at::ones({1})}, {"x", at::ones({1})}}),
      CheckpointError);
  EXPECT_THROW(
      write_safetensors(dir.file("b"), {{"x", at::ones({1}, at::kDouble)}}), CheckpointError);
}

TEST(SafeTensors, ParseByteSize) {
  EXPECT_EQ(parse_byte_size("5GB"), 5000000000ull);
  EXPECT_EQ(parse_byte_size("500MB"), 500000000ull);
  EXPECT_EQ(parse_byte_size("2GiB"), 2ull << 30);
  EXPECT_EQ(parse_byte_size("1000"), 1000ull);
  EXPECT_EQ(parse_byte_size("10kb"), 10000ull);
  EXPECT_THROW(parse_byte_size("GB"), UsageError);
  EXPECT_THROW(parse_byte_size("5TB"), UsageError);
  EXPECT_THROW(parse_byte_size("0"), UsageError);
}

}  // namespace
}  // namespace dpo
