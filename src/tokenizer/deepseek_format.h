// The parts of DeepSeek-V3's tokenizer files that the BPE trainer reproduces for a new vocab:
// the pre-tokenizer, the added tokens and the tokenizer_config.json around them.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace dsv3::deepseek_format {

struct SpecialToken {
  std::string content;
  bool special;  // DeepSeek-V3 marks the chat/tool/FIM markers as not special (decode keeps them)
};

// BOS, EOS and pad: ids 0, 1, 2 (in the BPE vocab too, as DeepSeek-V3 has them).
const std::vector<SpecialToken>& leading_tokens();
// User/Assistant, FIM, EOT and the tool-call markers of the chat template: the last ids.
const std::vector<SpecialToken>& trailing_tokens();

// DeepSeek-V3's "pre_tokenizer" object (three Split regexes, then ByteLevel).
nlohmann::ordered_json pre_tokenizer();

}  // namespace dsv3::deepseek_format
