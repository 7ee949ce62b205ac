#include "core/hash.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "tests/support/test_support.h"

namespace dpo {
namespace {

TEST(Sha256, MatchesTheStandardTestVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256, IncrementalEqualsOneShot) {
  Sha256 sha;
  sha.update("a");
  sha.update("bc");
  EXPECT_EQ(sha.hex_digest(), sha256_hex("abc"));
}

TEST(Sha256, HashesAFile) {
  testing::TempDir dir;
  testing::write_file(dir.file("x"), "abc");
  EXPECT_EQ(sha256_file_hex(dir.file("x")), sha256_hex("abc"));
  EXPECT_THROW(sha256_file_hex(dir.file("missing")), IoError);
}

// Reference values of splitmix64 (Vigna's splitmix64.c seeded with 0 and 1): the train/held-out
// split of every prepared dataset depends on these exact outputs.
TEST(Splitmix64, MatchesTheReferenceGenerator) {
  EXPECT_EQ(splitmix64(0), 0xE220A8397B1DCDAFULL);
  EXPECT_EQ(splitmix64(1), 0x910A2DEC89025CC1ULL);
}

TEST(Hash128, DependsOnContentAndSeed) {
  EXPECT_EQ(hash128("hello"), hash128("hello"));
  EXPECT_NE(hash128("hello"), hash128("hellp"));
  EXPECT_NE(hash128("hello", 1), hash128("hello", 2));
  EXPECT_EQ(hash128("hello").hex().size(), 32u);
}

TEST(Hash128Stream, FieldsAreDelimitedByTheirLength) {
  Hash128Stream a, b;
  a.update_field("ab");
  a.update_field("c");
  b.update_field("a");
  b.update_field("bc");
  EXPECT_NE(a.digest(), b.digest());
  Hash128Stream c;
  c.update_field("ab");
  c.update_field("c");
  EXPECT_EQ(a.digest(), c.digest());
}

}  // namespace
}  // namespace dpo
