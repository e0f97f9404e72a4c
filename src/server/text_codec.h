// How the server turns prompts into token ids and tokens back into text. A checkpoint with a
// tokenizer (tokenizer.json) encodes text and renders chat messages with its template; one
// without (the test fixtures) takes prompts as token ids only and writes each generated token
// as its decimal id, space separated — exactly the line `dsv3 generate --ids` prints.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "infer/token_constraint.h"
#include "server/request.h"

namespace dsv3::server {

// Decodes one sequence's tokens incrementally; each push returns the text that is complete.
class TextStream {
 public:
  virtual ~TextStream() = default;
  virtual std::string push(int32_t token) = 0;
  virtual std::string flush() = 0;  // at the end of the sequence
};

class TextCodec {
 public:
  virtual ~TextCodec() = default;
  virtual bool has_tokenizer() const = 0;
  // Throw ApiError (400) when the prompt cannot be encoded.
  virtual std::vector<int32_t> encode(const std::string& text) const = 0;
  // The conversation through the chat template (the generation prompt included), and the ids of
  // such rendered text (which carries its own BOS).
  virtual std::string render_chat(const json& messages) const = 0;
  virtual std::vector<int32_t> encode_rendered(const std::string& text) const = 0;
  // Special tokens are left out of the text, except, with `tool_markup`, DeepSeek's tool-call
  // tokens, which the tool-call parser reads.
  virtual std::unique_ptr<TextStream> stream(bool tool_markup = false) const = 0;
  virtual std::string token_text(int32_t token) const = 0;  // one token on its own (logprobs)
  // The vocabulary's bytes for constrained decoding; null without a tokenizer.
  virtual std::shared_ptr<const TokenTrie> token_trie() const = 0;
};

// Token ids as text, for checkpoints without a tokenizer.
std::unique_ptr<TextCodec> make_id_codec();

// The checkpoint's tokenizer when it has one, else the id codec.
std::unique_ptr<TextCodec> make_text_codec(const std::string& model_dir);

}  // namespace dsv3::server
