#include "server/text_codec.h"

#include "server/api_error.h"

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

}  // namespace

std::unique_ptr<TextCodec> make_id_codec() { return std::make_unique<IdCodec>(); }

std::unique_ptr<TextCodec> make_text_codec(const std::string&) { return make_id_codec(); }

}  // namespace dsv3::server
