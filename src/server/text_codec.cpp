#include "server/text_codec.h"

#include <filesystem>

#include "core/error.h"
#include "server/api_error.h"
#include "tokenizer/tokenizer.h"

namespace dsv3::server {

namespace {

class IdStream : public TextStream {
 public:
  std::string push(int32_t token) override {
    std::string s = first_ ? "" : " ";
    first_ = false;
    return s + std::to_string(token);
  }
  std::string flush() override { return {}; }

 private:
  bool first_ = true;
};

class IdCodec : public TextCodec {
 public:
  bool has_tokenizer() const override { return false; }
  std::vector<int32_t> encode(const std::string&) const override {
    throw ApiError(400, "this model has no tokenizer: send the prompt as an array of token ids", "prompt");
  }
  std::vector<int32_t> encode_chat(const std::vector<ChatMessage>&) const override {
    throw ApiError(400, "this model has no tokenizer, which chat completions need; use /v1/completions with token ids",
                   "messages");
  }
  std::unique_ptr<TextStream> stream() const override { return std::make_unique<IdStream>(); }
  std::string token_text(int32_t token) const override { return std::to_string(token); }
};

class TokenizerStream : public TextStream {
 public:
  explicit TokenizerStream(const Tokenizer& tok) : tok_(tok), dec_(tok, /*skip_special=*/true) {}
  // A model's vocabulary may be larger than its tokenizer's: such ids have no text.
  std::string push(int32_t token) override { return tok_.has_id(token) ? dec_.push(token) : std::string(); }
  std::string flush() override { return dec_.finish(); }

 private:
  const Tokenizer& tok_;
  StreamDecoder dec_;
};

class TokenizerCodec : public TextCodec {
 public:
  explicit TokenizerCodec(Tokenizer tok) : tok_(std::move(tok)) {}
  bool has_tokenizer() const override { return true; }
  std::vector<int32_t> encode(const std::string& text) const override {
    try {
      return tok_.encode_for_model(text);
    } catch (const Error& e) {
      throw ApiError(400, e.what(), "prompt");
    }
  }
  // The template writes BOS itself, so the rendered text is encoded as it is (as generate --chat).
  std::vector<int32_t> encode_chat(const std::vector<ChatMessage>& messages) const override {
    json m = json::array();
    for (const auto& msg : messages) m.push_back({{"role", msg.role}, {"content", msg.content}});
    try {
      return tok_.encode(tok_.render_chat(m, /*add_generation_prompt=*/true));
    } catch (const Error& e) {
      throw ApiError(400, e.what(), "messages");
    }
  }
  std::unique_ptr<TextStream> stream() const override { return std::make_unique<TokenizerStream>(tok_); }
  std::string token_text(int32_t token) const override { return tok_.has_id(token) ? tok_.decode({token}) : ""; }

 private:
  Tokenizer tok_;
};

}  // namespace

std::unique_ptr<TextCodec> make_id_codec() { return std::make_unique<IdCodec>(); }

std::unique_ptr<TextCodec> make_text_codec(const std::string& model_dir) {
  if (!std::filesystem::exists(std::filesystem::path(model_dir) / "tokenizer.json")) return make_id_codec();
  return std::make_unique<TokenizerCodec>(Tokenizer::load(model_dir));
}

}  // namespace dsv3::server
