// The parts of a loaded Tokenizer, shared by tokenizer.cpp (encode/decode) and
// tokenizer_load.cpp (reading tokenizer.json). Not part of the public interface.
#pragma once
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "tokenizer/added_tokens.h"
#include "tokenizer/bpe.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/tokenizer.h"

namespace dsv3 {

struct Tokenizer::Impl {
  enum class Kind : uint8_t { kUnused, kBytes, kAdded };

  std::unique_ptr<BpeModel> bpe;
  PreTokenizer pre_tokenizer;
  AddedTokens added;
  TokenizerConfig config;

  // Indexed by id: what the id decodes to (raw bytes, or an added token's text), its string in
  // tokenizer.json, and which of the two it is.
  std::vector<std::string> bytes;
  std::vector<std::string> token_text;
  std::vector<Kind> kind;
  std::vector<uint8_t> special;
  std::unordered_map<std::string, int32_t> text_to_id;  // vocab, then added tokens over it

  int32_t bos_id = -1, eos_id = -1;
};

}  // namespace dsv3
