// The seal of a prepared file: written into the user block, checked before libhdf5 reads the
// file; any change after sealing is refused with the file named.
#include "dataloader/prepared_seal.h"

#include <gtest/gtest.h>

#include <string>

#include "core/error.h"
#include "tests/support/test_support.h"

namespace dpo {
namespace {

const std::string kSignature("\x89HDF\r\n\x1a\n", 8);

// A stand-in for an HDF5 file with a user block: 512 zero bytes, the signature, the payload.
std::string unsealed_image(const std::string& payload) {
  return std::string(kPreparedUserBlockBytes, '\0') + kSignature + payload;
}

std::string sealed_file(const testing::TempDir& dir, const std::string& payload) {
  std::string image = unsealed_image(payload);
  EXPECT_TRUE(seal_prepared_image(image));
  const std::string path = dir.file("pairs.h5");
  testing::write_file(path, image);
  return path;
}

TEST(PreparedSeal, ASealedFileVerifies) {
  testing::TempDir dir;
  const std::string path = sealed_file(dir, " and the datasets");
  EXPECT_TRUE(verify_prepared_seal(path));
  const std::string bytes = testing::read_file(path);
  EXPECT_EQ(bytes.rfind("dpo-seal v1 xxh3-128 ", 0), 0u) << bytes.substr(0, 80);
  EXPECT_EQ(bytes.substr(kPreparedUserBlockBytes), kSignature + " and the datasets");
}

TEST(PreparedSeal, AnHdf5FileWithoutSealIsRefused) {
  // An older dpo's prepared file or another tool's HDF5: libhdf5 is not trusted with it.
  testing::TempDir dir;
  const std::string unsealed = dir.file("unsealed.h5");
  testing::write_file(unsealed, kSignature + "payload of a file without user block");
  try {
    verify_prepared_seal(unsealed);
    FAIL() << "an unsealed HDF5 file was accepted";
  } catch (const CacheError& e) {
    EXPECT_NE(std::string(e.what()).find(unsealed), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("carries no checksum"), std::string::npos) << e.what();
    EXPECT_NE(e.hint().find("dpo prepare again"), std::string::npos) << e.hint();
  }
}

TEST(PreparedSeal, AFileThatIsNotHdf5IsLeftToTheCaller) {
  testing::TempDir dir;
  const std::string tiny = dir.file("tiny.h5");
  testing::write_file(tiny, "x");
  EXPECT_FALSE(verify_prepared_seal(tiny));
  const std::string text = dir.file("rows.jsonl");
  testing::write_file(text, std::string(600, '{'));
  EXPECT_FALSE(verify_prepared_seal(text));
}

void expect_damaged(const std::string& path) {
  try {
    verify_prepared_seal(path);
    FAIL() << "a damaged file was accepted";
  } catch (const CacheError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("damaged"), std::string::npos) << e.what();
  }
}

TEST(PreparedSeal, AFlippedByteIsRefused) {
  testing::TempDir dir;
  const std::string path = sealed_file(dir, std::string(5000, 'a'));
  std::string bytes = testing::read_file(path);
  bytes[kPreparedUserBlockBytes + 4321] ^= 0x01;
  testing::write_file(path, bytes);
  expect_damaged(path);
}

TEST(PreparedSeal, ATruncatedOrExtendedFileIsRefused) {
  testing::TempDir dir;
  const std::string path = sealed_file(dir, std::string(5000, 'a'));
  const std::string bytes = testing::read_file(path);
  testing::write_file(path, bytes.substr(0, bytes.size() - 1));
  expect_damaged(path);
  testing::write_file(path, bytes + "b");
  expect_damaged(path);
}

TEST(PreparedSeal, AnOverwrittenSealIsRefused) {
  // A user block (which only sealed files have) without the seal: its start was overwritten.
  testing::TempDir dir;
  const std::string path = dir.file("pairs.h5");
  testing::write_file(path, unsealed_image("payload"));
  expect_damaged(path);
  std::string bytes = testing::read_file(sealed_file(dir, "payload"));
  bytes[0] = 'x';
  testing::write_file(path, bytes);
  expect_damaged(path);
}

TEST(PreparedSeal, AnEditedSealIsRefused) {
  testing::TempDir dir;
  const std::string path = sealed_file(dir, "payload");
  std::string bytes = testing::read_file(path);
  bytes[30] = bytes[30] == '0' ? '1' : '0';  // a digit of the checksum
  testing::write_file(path, bytes);
  expect_damaged(path);
}

TEST(PreparedSeal, AnImageWithoutUserBlockIsLeftAsItIs) {
  std::string image = kSignature + "payload of an older file";
  const std::string before = image;
  EXPECT_FALSE(seal_prepared_image(image));
  EXPECT_EQ(image, before);
}

TEST(PreparedSeal, AMissingFileIsAnIoError) {
  testing::TempDir dir;
  EXPECT_THROW(verify_prepared_seal(dir.file("absent.h5")), IoError);
}

}  // namespace
}  // namespace dpo
