// Encoding and decoding with the real DeepSeek-V3 tokenizer against the reference's outputs.
#include <gtest/gtest.h>

#include <random>

#include "tokenizer_fixture.h"

namespace dsv3::test {
namespace {

TEST(Tokenizer, EncodesEveryReferenceCase) {
  const Tokenizer& tok = deepseek_v3_tokenizer();
  const auto cases = reference_cases();
  ASSERT_EQ(cases.size(), 400u);
  int mismatches = 0;
  for (const auto& c : cases) {
    const auto ids = tok.encode(c.text);
    if (ids != c.ids && ++mismatches <= 5) ADD_FAILURE() << "encode differs for: " << c.text.substr(0, 200);
    EXPECT_EQ(tok.decode(c.ids), c.decoded) << c.text.substr(0, 200);
  }
  EXPECT_EQ(mismatches, 0);
}

TEST(Tokenizer, DecodeInvertsEncode) {
  const Tokenizer& tok = deepseek_v3_tokenizer();
  for (const auto& c : reference_cases()) EXPECT_EQ(tok.decode(tok.encode(c.text)), c.text);
}

}  // namespace
}  // namespace dsv3::test
