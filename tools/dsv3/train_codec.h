// The tokenizer a training run reads its text with: a tokenizer folder (tokenizer.json +
// tokenizer_config.json) or "bytes" (train/codec.h's byte-level stand-in).
#pragma once
#include <cstdint>
#include <string>

#include "train/data.h"

namespace dsv3::cli {

TextCodec make_codec(const std::string& tokenizer, int64_t vocab_size);

// Copies tokenizer.json and tokenizer_config.json next to the trained model (nothing for "bytes").
void copy_tokenizer_files(const std::string& tokenizer, const std::string& out_dir);

}  // namespace dsv3::cli
