#include "io/json_file.h"
#include "server/text_codec.h"

#include <algorithm>
#include <filesystem>

#include "core/error.h"
#include "server/api_error.h"
#include "tokenizer/chat_template_tools.h"
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
  std::string render_chat(const json&) const override {
    throw ApiError(400, "this model has no tokenizer, which chat completions need; use /v1/completions with token ids",
                   "messages");
  }
  std::vector<int32_t> encode_rendered(const std::string& text) const override { return encode(text); }
  std::unique_ptr<TextStream> stream(bool) const override { return std::make_unique<IdStream>(); }
  std::string token_text(int32_t token) const override { return std::to_string(token); }
  std::shared_ptr<const TokenTrie> token_trie() const override { return nullptr; }
};

class TokenizerStream : public TextStream {
 public:
  TokenizerStream(const Tokenizer& tok, const std::vector<int32_t>* kept)
      : tok_(tok), kept_(kept), dec_(tok, /*skip_special=*/true) {}
  // A model's vocabulary may be larger than its tokenizer's: such ids have no text.
  std::string push(int32_t token) override {
    if (!tok_.has_id(token)) return {};
    if (kept_ && std::find(kept_->begin(), kept_->end(), token) != kept_->end())
      return dec_.finish() + tok_.decode({token});
    return dec_.push(token);
  }
  std::string flush() override { return dec_.finish(); }

 private:
  const Tokenizer& tok_;
  const std::vector<int32_t>* kept_;  // special tokens written out
  StreamDecoder dec_;
};

class TokenizerCodec : public TextCodec {
 public:
  explicit TokenizerCodec(Tokenizer tok) : tok_(std::move(tok)) {
    namespace dt = deepseek_tools;
    for (const std::string& t : {dt::kCallsBegin, dt::kCallsEnd, dt::kCallBegin, dt::kCallEnd, dt::kSep})
      if (const auto id = tok_.token_to_id(t)) tool_tokens_.push_back(*id);
    std::vector<std::string> bytes(size_t(tok_.vocab_size()));
    for (int32_t id = 0; id < tok_.vocab_size(); ++id) bytes[size_t(id)] = tok_.token_bytes(id);
    trie_ = std::make_shared<const TokenTrie>(bytes);
  }
  bool has_tokenizer() const override { return true; }
  std::vector<int32_t> encode(const std::string& text) const override {
    try {
      return tok_.encode_for_model(text);
    } catch (const Error& e) {
      throw ApiError(400, e.what(), "prompt");
    }
  }
  std::string render_chat(const json& messages) const override {
    try {
      return tok_.render_chat(messages, /*add_generation_prompt=*/true);
    } catch (const Error& e) {
      throw ApiError(400, e.what(), "messages");
    }
  }
  // The template writes BOS itself, so the rendered text is encoded as it is (as generate --chat).
  std::vector<int32_t> encode_rendered(const std::string& text) const override {
    try {
      return tok_.encode(text);
    } catch (const Error& e) {
      throw ApiError(400, e.what(), "messages");
    }
  }
  std::unique_ptr<TextStream> stream(bool tool_markup) const override {
    return std::make_unique<TokenizerStream>(tok_, tool_markup ? &tool_tokens_ : nullptr);
  }
  std::string token_text(int32_t token) const override { return tok_.has_id(token) ? tok_.decode({token}) : ""; }
  std::shared_ptr<const TokenTrie> token_trie() const override { return trie_; }

 private:
  Tokenizer tok_;
  std::vector<int32_t> tool_tokens_;
  std::shared_ptr<const TokenTrie> trie_;
};

}  // namespace

std::unique_ptr<TextCodec> make_id_codec() { return std::make_unique<IdCodec>(); }

std::unique_ptr<TextCodec> make_text_codec(const std::string& model_dir) {
  const bool gguf = std::filesystem::path(model_dir).extension() == ".gguf";  // the tokenizer is in its metadata
  if (!gguf && !std::filesystem::exists(std::filesystem::path(model_dir) / "tokenizer.json")) return make_id_codec();
  return std::make_unique<TokenizerCodec>(Tokenizer::load(model_dir));
}

}  // namespace dsv3::server
