// The tokenizer stored in a llama.cpp GGUF file, and a tokenizer.json written into one. A BPE
// tokenizer of the gpt2 kind is stored as:
//   tokenizer.ggml.model "gpt2", tokenizer.ggml.pre "deepseek-v3" (the name of DeepSeek-V3's
//   pre-tokenizer: three regex splits, then byte-level; the only one dsv3 maps)
//   tokenizer.ggml.tokens [n_vocab] strings, token_type [n_vocab] i32: 1 normal (the BPE vocab),
//   3 control (a special added token), 4 user-defined (an added token that is not special),
//   5 unused (an id no token has; its text is "[PAD<id>]")
//   tokenizer.ggml.merges ["a b", ...] in rank order
//   tokenizer.ggml.bos_token_id / eos_token_id / padding_token_id, add_bos_token / add_eos_token,
//   tokenizer.chat_template
// Read back, these give the same encode and decode as the tokenizer.json they came from.
#pragma once
#include <cstdint>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "io/gguf.h"
#include "io/gguf_writer.h"
#include "tokenizer/tokenizer.h"

namespace dsv3 {

// tokenizer.json (+ tokenizer_config.json, may be null) as GGUF keys over ids [0, n_vocab);
// throws Error naming `what` for tokenizers llama.cpp cannot name or ids beyond n_vocab.
void add_gguf_tokenizer(GgufWriter& w, const nlohmann::json& tokenizer_json, const nlohmann::json* config,
                        int64_t n_vocab, const std::string& what);

// The tokenizer of a GGUF file's metadata; throws Error naming `path` and the key at fault.
Tokenizer tokenizer_from_gguf(const GgufContents& c, const std::string& path);

}  // namespace dsv3
