#include "tokenizer/tokenizer.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/parallel.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer_impl.h"

namespace dsv3 {

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

void Tokenizer::encode_append(std::string_view text, std::vector<int32_t>& out) const {
  if (const size_t bad = utf8::find_invalid(text); bad != std::string::npos)
    fail("text to encode is not valid UTF-8 (byte ", bad, " of ", text.size(), ")");
  const Impl& m = *impl_;
  std::vector<AddedTokens::Section> sections;
  m.added.split(text, sections);
  for (const auto& s : sections) {
    if (s.token >= 0) {
      out.push_back(s.token);
      continue;
    }
    m.pre_tokenizer.split(s.text, [&](std::string_view piece) { m.bpe->encode_word(piece, out); });
  }
}

std::vector<int32_t> Tokenizer::encode(std::string_view text) const {
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 4);
  encode_append(text, out);
  return out;
}

std::vector<int32_t> Tokenizer::encode_for_model(std::string_view text) const {
  std::vector<int32_t> out;
  if (impl_->config.add_bos_token && impl_->bos_id >= 0) out.push_back(impl_->bos_id);
  encode_append(text, out);
  if (impl_->config.add_eos_token && impl_->eos_id >= 0) out.push_back(impl_->eos_id);
  return out;
}

std::vector<std::vector<int32_t>> Tokenizer::encode_batch(const std::vector<std::string>& texts) const {
  std::vector<std::vector<int32_t>> out(texts.size());
  std::string error;
  // Dynamic scheduling: documents differ a lot in length. Errors cannot leave an OpenMP loop.
#pragma omp parallel for schedule(dynamic, 1) num_threads(num_threads())
  for (int64_t i = 0; i < int64_t(texts.size()); ++i) {
    try {
      out[size_t(i)] = encode(texts[size_t(i)]);
    } catch (const std::exception& e) {
#pragma omp critical(dsv3_encode_batch_error)
      if (error.empty()) error = cat("text ", i, ": ", e.what());
    }
  }
  if (!error.empty()) fail(error);
  return out;
}

namespace {

void check_id(int32_t id, const Tokenizer::Impl& m) {
  if (id < 0 || size_t(id) >= m.kind.size() || m.kind[size_t(id)] == Tokenizer::Impl::Kind::kUnused)
    fail("token id ", id, " is not in the vocabulary (size ", m.kind.size(), ")");
}

// Byte tokens go through the UTF-8 decoder; added tokens are text and end any pending
// character first (the reference decodes the runs between added tokens separately).
void decode_one(int32_t id, bool skip_special, const Tokenizer::Impl& m, utf8::StreamingDecoder& d, std::string& out) {
  check_id(id, m);
  if (m.kind[size_t(id)] == Tokenizer::Impl::Kind::kAdded) {
    if (skip_special && m.special[size_t(id)]) return;
    d.finish(out);
    out += m.bytes[size_t(id)];
  } else {
    d.push(m.bytes[size_t(id)], out);
  }
}

}  // namespace

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool skip_special) const {
  std::string out;
  utf8::StreamingDecoder d;
  for (const int32_t id : ids) decode_one(id, skip_special, *impl_, d, out);
  d.finish(out);
  return out;
}

std::string StreamDecoder::push(int32_t id) {
  std::string out;
  decode_one(id, skip_special_, *tok_.impl_, utf8_, out);
  return out;
}

std::string StreamDecoder::finish() {
  std::string out;
  utf8_.finish(out);
  return out;
}

int32_t Tokenizer::vocab_size() const { return int32_t(impl_->kind.size()); }

std::optional<int32_t> Tokenizer::token_to_id(std::string_view token) const {
  const auto it = impl_->text_to_id.find(std::string(token));
  if (it == impl_->text_to_id.end()) return std::nullopt;
  return it->second;
}

std::string Tokenizer::id_to_token(int32_t id) const {
  check_id(id, *impl_);
  return impl_->token_text[size_t(id)];
}

bool Tokenizer::has_id(int32_t id) const {
  return id >= 0 && size_t(id) < impl_->kind.size() && impl_->kind[size_t(id)] != Impl::Kind::kUnused;
}

bool Tokenizer::is_added(int32_t id) const {
  return id >= 0 && size_t(id) < impl_->kind.size() && impl_->kind[size_t(id)] == Impl::Kind::kAdded;
}

bool Tokenizer::is_special(int32_t id) const { return is_added(id) && impl_->special[size_t(id)]; }

std::string Tokenizer::token_bytes(int32_t id) const {
  return has_id(id) && impl_->kind[size_t(id)] == Impl::Kind::kBytes ? impl_->bytes[size_t(id)] : std::string();
}
int32_t Tokenizer::bos_id() const { return impl_->bos_id; }
int32_t Tokenizer::eos_id() const { return impl_->eos_id; }
const TokenizerConfig& Tokenizer::config() const { return impl_->config; }
const BpeModel& Tokenizer::bpe_model() const { return *impl_->bpe; }

std::string Tokenizer::render_chat(const nlohmann::json& messages, bool add_generation_prompt) const {
  const ChatTemplate t = ChatTemplate::from_config(impl_->config);
  return t.render(messages, add_generation_prompt);
}

}  // namespace dsv3
