// The pre-tokenizer regex: PCRE2 with the reference's JavaScript semantics.
#include <gtest/gtest.h>

#include "core/error.h"
#include "tokenizer/regex.h"

namespace dsv3 {
namespace {

std::vector<std::string> matches(const std::string& pattern, const std::string& text) {
  Regex re(pattern, "test");
  std::vector<std::string> out;
  re.for_each_match(text, [&](size_t b, size_t e) { out.push_back(text.substr(b, e - b)); });
  return out;
}

using V = std::vector<std::string>;

TEST(Regex, WhitespaceIsJavaScripts) {
  // JavaScript's \s has U+FEFF and lacks U+0085 (NEL); PCRE2's and Rust's are the other way.
  EXPECT_EQ(matches("\\s+", "a\xEF\xBB\xBF" "b"), V{"\xEF\xBB\xBF"});
  EXPECT_EQ(matches("\\s+", "a\xC2\x85" "b"), V{});
  EXPECT_EQ(matches("\\S+", "a\xC2\x85" "b c"), (V{"a\xC2\x85" "b", "c"}));
  EXPECT_EQ(matches("[\\s,]+", "x, \xE3\x80\x80y"), V{", \xE3\x80\x80"});  // ideographic space
}

TEST(Regex, DigitsAndWordCharactersStayAscii) {
  EXPECT_EQ(matches("\\d+", "12\xD9\xA3\xD9\xA4" "3"), (V{"12", "3"}));  // Arabic-Indic digits are not \d
  EXPECT_EQ(matches("\\w+", "caf\xC3\xA9"), V{"caf"});
  EXPECT_EQ(matches("\\p{N}+", "12\xD9\xA3"), V{"12\xD9\xA3"});          // but they are \p{N}
}

TEST(Regex, DotAndDollarFollowJavaScript) {
  EXPECT_EQ(matches(".+", "a\rb\xE2\x80\xA8" "c"), (V{"a", "b", "c"}));
  EXPECT_EQ(matches("a$", "a\n"), V{});
}

TEST(Regex, EmptyMatchesAreDroppedAndSearchMovesOneCharacter) {
  EXPECT_EQ(matches("x*", "axxb\xE4\xBD\xA0x"), (V{"xx", "x"}));
}

TEST(Regex, LookAheadSeesOnlyThePiece) {
  // The big DeepSeek pattern's \s+(?!\S): trailing spaces before a word are left for the word.
  EXPECT_EQ(matches("\\s+(?!\\S)|\\s+", "a   b"), (V{"  ", " "}));
  EXPECT_EQ(matches("\\s+(?!\\S)|\\s+", "   "), V{"   "});
}

TEST(Regex, UnicodeEscapesAndBadPatterns) {
  EXPECT_EQ(matches("\\u4e00+", "\xE4\xB8\x80\xE4\xB8\x80" "a"), V{"\xE4\xB8\x80\xE4\xB8\x80"});
  EXPECT_EQ(matches("\\u{1F600}", "x\xF0\x9F\x98\x80"), V{"\xF0\x9F\x98\x80"});
  EXPECT_THROW(Regex("(unclosed", "test"), Error);
  EXPECT_THROW(Regex("[\\S]", "test"), Error);
  EXPECT_THROW(Regex("[]", "test"), Error);
  try {
    Regex("a(", "tokenizer.json: Split pattern");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Split pattern"), std::string::npos) << e.what();
  }
}

TEST(Regex, LongInputsDoNotExhaustTheStack) {
  const std::string spaces(1 << 20, ' '), letters(1 << 20, 'a');
  EXPECT_EQ(matches("\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", spaces + "x"), (V{spaces.substr(1), " "}));
  EXPECT_EQ(matches("[\\p{L}\\p{M}]+", letters).size(), 1u);
}

}  // namespace
}  // namespace dsv3
