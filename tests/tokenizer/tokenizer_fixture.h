// The DeepSeek-V3 tokenizer from tests/data/tokenizer, loaded once per test program.
#pragma once
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace dsv3::test {

const Tokenizer& deepseek_v3_tokenizer();
std::string deepseek_v3_dir();

struct EncodeCase {
  std::string text, decoded;
  std::vector<int32_t> ids;
};
// tests/data/tokenizer/cases.jsonl: texts encoded by the reference implementation.
std::vector<EncodeCase> reference_cases();

}  // namespace dsv3::test
