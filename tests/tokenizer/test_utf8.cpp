// UTF-8 validation (the encoder's input check) and the WHATWG-style lossy decoder.
#include <gtest/gtest.h>

#include <random>

#include "tokenizer/utf8.h"

namespace dsv3 {
namespace {

const std::string kFFFD = "\xEF\xBF\xBD";

TEST(Utf8, FindsTheFirstInvalidByte) {
  EXPECT_EQ(utf8::find_invalid("plain ascii and é 你 😀"), std::string::npos);
  EXPECT_EQ(utf8::find_invalid("ab\x80"), 2u);             // lone continuation
  EXPECT_EQ(utf8::find_invalid("\xC0\x80"), 0u);           // overlong NUL
  EXPECT_EQ(utf8::find_invalid("x\xE0\x80\x80"), 1u);      // overlong three-byte
  EXPECT_EQ(utf8::find_invalid("\xED\xA0\x80"), 0u);       // surrogate U+D800
  EXPECT_EQ(utf8::find_invalid("\xF4\x90\x80\x80"), 0u);   // above U+10FFFF
  EXPECT_EQ(utf8::find_invalid("12345678\xE4\xBD"), 8u);   // truncated at the end
  EXPECT_EQ(utf8::find_invalid("\xFF"), 0u);
}

TEST(Utf8, LossyDecodingReplacesMaximalSubparts) {
  // Examples of the WHATWG Encoding Standard / Unicode "best practice" (U+FFFD per subpart).
  EXPECT_EQ(utf8::to_valid_lossy("a\x80" "b"), "a" + kFFFD + "b");
  EXPECT_EQ(utf8::to_valid_lossy("\xE4\xBD"), kFFFD);                      // one incomplete sequence
  EXPECT_EQ(utf8::to_valid_lossy("\xE4\xBD" "a"), kFFFD + "a");
  EXPECT_EQ(utf8::to_valid_lossy("\xF0\x80\x80"), kFFFD + kFFFD + kFFFD);  // F0 80: 80 is out of range
  EXPECT_EQ(utf8::to_valid_lossy("\xED\xA0\x80"), kFFFD + kFFFD + kFFFD);
  EXPECT_EQ(utf8::to_valid_lossy("\xC3\xA9\xFF"), "é" + kFFFD);
}

TEST(Utf8, StreamingGivesTheSameTextForAnySplit) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 500; ++trial) {
    std::string bytes;
    const int n = int(rng() % 40);
    for (int i = 0; i < n; ++i) {
      const char* pool[] = {"a", "é", "你", "😀", "\x80", "\xE4", "\xF0\x9F", "\xC3"};
      bytes += pool[rng() % 8];
    }
    const std::string whole = utf8::to_valid_lossy(bytes);
    EXPECT_EQ(utf8::find_invalid(whole), std::string::npos);
    utf8::StreamingDecoder d;
    std::string out;
    for (size_t i = 0; i < bytes.size();) {
      const size_t len = 1 + rng() % 3;
      d.push(std::string_view(bytes).substr(i, len), out);
      i += len;
    }
    d.finish(out);
    EXPECT_EQ(out, whole);
  }
}

TEST(Utf8, ValidTextIsUnchanged) {
  const std::string s = "Grüße, 世界! 😀 \t\n";
  EXPECT_EQ(utf8::to_valid_lossy(s), s);
}

}  // namespace
}  // namespace dsv3
