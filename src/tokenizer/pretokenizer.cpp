#include "tokenizer/pretokenizer.h"

#include "core/error.h"

namespace dsv3 {

namespace {
// The ByteLevel pre-tokenizer's own split, as the reference writes it (GPT-2's pattern).
constexpr const char* kGpt2Pattern = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
}  // namespace

void PreTokenizer::add_split(const std::string& pattern, Behavior behavior, bool invert, const std::string& what) {
  if (sealed_) fail(what, ": a Split after the ByteLevel pre-tokenizer is not supported");
  steps_.push_back(Step{Regex(pattern, what), behavior, invert});
}

void PreTokenizer::add_byte_level(bool add_prefix_space, bool use_regex) {
  if (sealed_) fail("pre_tokenizer: more than one ByteLevel step is not supported");
  if (use_regex) gpt2_split_ = std::make_unique<Regex>(kGpt2Pattern, "ByteLevel pre-tokenizer");
  add_prefix_space_ = add_prefix_space;
  sealed_ = true;
}

}  // namespace dsv3
