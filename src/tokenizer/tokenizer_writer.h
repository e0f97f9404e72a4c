// Writing a trained BPE as a DeepSeek-V3-style tokenizer folder: tokenizer.json (byte-level
// BPE, DeepSeek-V3's pre-tokenizer and decoder) and tokenizer_config.json (BOS/EOS, the
// DeepSeek-V3 chat template). Ids: 0-2 BOS, EOS, pad; then the 256 bytes; then the merged
// tokens; then User/Assistant, FIM, EOT and the tool-call markers.
#pragma once
#include <string>

#include "tokenizer/bpe_trainer.h"

namespace dsv3 {

// How many ids the special tokens take (vocab size = this + BPE tokens).
size_t special_token_count();

// Writes DIR/tokenizer.json and DIR/tokenizer_config.json (DIR is created).
void write_tokenizer_dir(const std::string& dir, const BpeVocab& vocab);

}  // namespace dsv3
