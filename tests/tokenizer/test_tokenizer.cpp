// Encoding and decoding with the real DeepSeek-V3 tokenizer against the reference's outputs.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "core/error.h"
#include "tokenizer/bpe.h"
#include "tokenizer/byte_level.h"

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

namespace dsv3::test {
namespace {

const std::string kFFFD = "\xEF\xBF\xBD";

TEST(Tokenizer, RejectsInvalidUtf8WithTheByteOffset) {
  const Tokenizer& tok = deepseek_v3_tokenizer();
  try {
    tok.encode("abc\xE4\xBD");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not valid UTF-8 (byte 3"), std::string::npos) << e.what();
  }
  EXPECT_THROW(tok.encode(std::string("\xC0\x80")), Error);
  EXPECT_THROW(tok.encode_batch({"fine", "bad \xFF"}), Error);
}

TEST(Tokenizer, DecodesBrokenCharactersLossily) {
  const Tokenizer& tok = deepseek_v3_tokenizer();
  const auto ids = tok.encode("你");  // one token of three bytes, or several: cut it into bytes
  // Byte tokens: the ids of single bytes, through their vocab strings in the ByteLevel alphabet.
  const int32_t e4 = *tok.token_to_id("\xC3\xA4");  // byte 0xE4 is shown as U+00E4
  const int32_t bd = *tok.token_to_id("\xC2\xBD");  // byte 0xBD is shown as U+00BD
  EXPECT_EQ(tok.decode({e4, bd}), kFFFD);
  EXPECT_EQ(tok.decode({e4, bd, ids.front()}), kFFFD + tok.decode({ids.front()}));
  EXPECT_EQ(tok.decode({bd}), kFFFD);
}

TEST(Tokenizer, SpecialTokensAndIds) {
  const Tokenizer& tok = deepseek_v3_tokenizer();
  EXPECT_EQ(tok.bos_id(), 0);
  EXPECT_EQ(tok.eos_id(), 1);
  EXPECT_EQ(tok.vocab_size(), 128815);
  EXPECT_TRUE(tok.is_special(0));
  EXPECT_TRUE(tok.is_added(128803));
  EXPECT_FALSE(tok.is_special(128803));  // <｜User｜> is added but not special
  EXPECT_EQ(tok.id_to_token(128803), "<｜User｜>");
  EXPECT_EQ(tok.token_to_id("<｜Assistant｜>"), 128804);
  EXPECT_EQ(tok.encode_for_model("a"), (std::vector<int32_t>{0, 67}));
  EXPECT_EQ(tok.decode({0, 67, 1}, /*skip_special=*/true), "a");
  EXPECT_EQ(tok.decode({0, 67, 1}), "<｜begin▁of▁sentence｜>a<｜end▁of▁sentence｜>");
  EXPECT_THROW(tok.decode({200000}), Error);
  EXPECT_THROW(tok.decode({-1}), Error);
  EXPECT_THROW(tok.id_to_token(128815), Error);
}

TEST(Tokenizer, AddedTokensAreCutOutOfRawText) {
  const Tokenizer& tok = deepseek_v3_tokenizer();
  const auto ids = tok.encode("x<｜User｜><｜User｜>y<|EOT|>");
  EXPECT_EQ(ids, (std::vector<int32_t>{tok.encode("x")[0], 128803, 128803, tok.encode("y")[0], 128805}));
  // An incomplete marker is ordinary text.
  const auto partial = tok.encode("<｜User");
  for (const int32_t id : partial) EXPECT_FALSE(tok.is_added(id));
}

TEST(Tokenizer, StreamDecoderEqualsDecodeForAnyIds) {
  const Tokenizer& tok = deepseek_v3_tokenizer();
  std::mt19937 rng(11);
  for (int trial = 0; trial < 300; ++trial) {
    std::vector<int32_t> ids;
    const int n = 1 + int(rng() % 30);
    for (int i = 0; i < n; ++i) {
      // Mostly low ids (single bytes and short pieces, often split characters), some added tokens.
      const uint32_t r = rng() % 10;
      ids.push_back(r < 6 ? int32_t(3 + rng() % 256) : r < 9 ? int32_t(rng() % 128000) : int32_t(128800 + rng() % 15));
    }
    for (const bool skip : {false, true}) {
      StreamDecoder s(tok, skip);
      std::string out;
      for (const int32_t id : ids) {
        const std::string piece = s.push(id);
        EXPECT_EQ(utf8::find_invalid(piece), std::string::npos);  // never half a character
        out += piece;
      }
      out += s.finish();
      EXPECT_EQ(out, tok.decode(ids, skip));
    }
  }
}

TEST(Tokenizer, StreamingTextHoldsBackHalfCharacters) {
  const Tokenizer& tok = deepseek_v3_tokenizer();
  auto byte_token = [&](char b) { return *tok.token_to_id(byte_level::encode(std::string(1, b))); };
  const int32_t e4 = byte_token('\xE4'), bd = byte_token('\xBD'), a0 = byte_token('\xA0');
  StreamDecoder s(tok);
  EXPECT_EQ(s.push(e4), "");
  EXPECT_EQ(s.push(bd), "");
  EXPECT_EQ(s.push(a0), "你");
  EXPECT_EQ(s.push(e4), "");
  EXPECT_EQ(s.finish(), kFFFD);
}

TEST(Tokenizer, BatchEncodingEqualsOneByOne) {
  const Tokenizer& tok = deepseek_v3_tokenizer();
  std::vector<std::string> texts;
  for (const auto& c : reference_cases()) texts.push_back(c.text);
  const auto batch = tok.encode_batch(texts);
  ASSERT_EQ(batch.size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i) EXPECT_EQ(batch[i], tok.encode(texts[i]));
}

TEST(Tokenizer, BothMergeLoopsAndTheCacheAgree) {
  const Tokenizer& tok = deepseek_v3_tokenizer();
  const BpeModel& bpe = tok.bpe_model();
  std::mt19937 rng(3);
  const std::string alphabet[] = {"a", "b", "th", "e", " ", "in", "\xE4\xBD\xA0", "\xE5\xA5\xBD", "1", "ing", "_"};
  for (int trial = 0; trial < 300; ++trial) {
    std::string word;
    const int n = 1 + int(rng() % 200);
    for (int i = 0; i < n; ++i) word += alphabet[rng() % 11];
    std::vector<int32_t> scan, heap, cached;
    bpe.encode_word_uncached(word, scan, BpeModel::Loop::kScan);
    bpe.encode_word_uncached(word, heap, BpeModel::Loop::kHeap);
    bpe.encode_word(word, cached);
    bpe.encode_word(word, cached);  // the second time from the cache
    ASSERT_EQ(scan, heap) << word;
    ASSERT_EQ(cached.size(), 2 * scan.size());
    EXPECT_TRUE(std::equal(scan.begin(), scan.end(), cached.begin()));
    EXPECT_TRUE(std::equal(scan.begin(), scan.end(), cached.begin() + std::ptrdiff_t(scan.size())));
    EXPECT_EQ(tok.decode(scan), word);
  }
}

TEST(Tokenizer, HugeInputsEncodeAndRoundTrip) {
  const Tokenizer& tok = deepseek_v3_tokenizer();
  for (const std::string& s : {std::string(300000, 'a'), std::string(300000, ' '), std::string(100000, '\n') + "x",
                               std::string(200000, '9')}) {
    EXPECT_EQ(tok.decode(tok.encode(s)), s);
  }
}

}  // namespace
}  // namespace dsv3::test
