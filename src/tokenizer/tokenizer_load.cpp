// Reading tokenizer.json and tokenizer_config.json into a Tokenizer. Every component is checked
// against what dsv3 implements; anything else is an Error that names the component.
#include <filesystem>

#include "core/error.h"
#include "io/json_file.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/gguf_tokenizer.h"
#include "tokenizer/tokenizer_impl.h"

namespace dsv3 {

namespace {

using Impl = Tokenizer::Impl;

std::string type_of(const json& j, const std::string& what) {
  if (!j.is_object()) fail(what, ": expected an object");
  const auto it = j.find("type");
  if (it == j.end() || !it->is_string()) fail(what, ": has no \"type\"");
  return it->get<std::string>();
}

bool flag(const json& j, const char* key, bool fallback) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) fail("\"", key, "\" must be true or false");
  return it->get<bool>();
}

bool null_or_empty(const json& j, const char* key) {
  const auto it = j.find(key);
  return it == j.end() || it->is_null() || (it->is_string() && it->get<std::string>().empty());
}

// Only the identity normalizer (null, or a Sequence of nothing) is implemented.
void check_normalizer(const json& n, const std::string& what) {
  if (n.is_null()) return;
  const std::string t = type_of(n, what);
  if (t != "Sequence") fail(what, ": normalizer \"", t, "\" is not supported (only none)");
  const auto it = n.find("normalizers");
  if (it == n.end() || !it->is_array()) fail(what, ": Sequence has no \"normalizers\" array");
  for (const json& sub : *it) check_normalizer(sub, what);
}

void check_decoder(const json& d, const std::string& what) {
  const std::string t = d.is_null() ? "null" : type_of(d, what);
  if (t == "ByteLevel") return;
  if (t == "Sequence" && d.contains("decoders") && d["decoders"].is_array()) {
    for (const json& sub : d["decoders"]) check_decoder(sub, what);
    return;
  }
  fail(what, ": decoder \"", t, "\" is not supported (only ByteLevel)");
}

// BOS/EOS come from tokenizer_config.json (as the reference does), so a TemplateProcessing
// post-processor is not applied either; only its presence is allowed.
void check_post_processor(const json& p, const std::string& what) {
  if (p.is_null()) return;
  const std::string t = type_of(p, what);
  if (t == "ByteLevel" || t == "TemplateProcessing") return;
  if (t == "Sequence" && p.contains("processors") && p["processors"].is_array()) {
    for (const json& sub : p["processors"]) check_post_processor(sub, what);
    return;
  }
  fail(what, ": post_processor \"", t, "\" is not supported");
}

void check_bpe_options(const json& m, const std::string& what) {
  if (m.contains("type") && type_of(m, what) != "BPE") fail(what, ": model \"", m["type"].get<std::string>(), "\" is not supported (only BPE)");
  if (const auto it = m.find("dropout"); it != m.end() && !it->is_null() && !(it->is_number() && it->get<double>() == 0.0))
    fail(what, ": BPE dropout is not supported");
  if (!null_or_empty(m, "continuing_subword_prefix")) fail(what, ": BPE continuing_subword_prefix is not supported");
  if (!null_or_empty(m, "end_of_word_suffix")) fail(what, ": BPE end_of_word_suffix is not supported");
  if (flag(m, "byte_fallback", false)) fail(what, ": BPE byte_fallback (SentencePiece-style) is not supported");
}

std::vector<AddedToken> read_added_tokens(const json& tj, const std::string& what) {
  std::vector<AddedToken> out;
  const auto it = tj.find("added_tokens");
  if (it == tj.end() || it->is_null()) return out;
  if (!it->is_array()) fail(what, ": \"added_tokens\" must be an array");
  for (const json& a : *it) {
    if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer() || !a.contains("content") || !a["content"].is_string())
      fail(what, ": an added token needs an integer \"id\" and a string \"content\"");
    AddedToken t;
    t.id = a["id"].get<int32_t>();
    t.content = a["content"].get<std::string>();
    t.special = flag(a, "special", false);
    t.lstrip = flag(a, "lstrip", false);
    t.rstrip = flag(a, "rstrip", false);
    if (t.id < 0) fail(what, ": added token '", t.content, "' has a negative id");
    if (t.content.empty()) fail(what, ": added token ", t.id, " has empty content");
    out.push_back(std::move(t));
  }
  return out;
}

// "left right" (the classic format) or ["left", "right"] (tokenizers >= 0.20).
std::pair<std::string, std::string> read_merge(const json& m, size_t rank, const std::string& what) {
  if (m.is_string()) {
    const std::string s = m.get<std::string>();
    const size_t sp = s.find(' ');
    if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos)
      fail(what, ": merge ", rank, " '", s, "' is not two tokens separated by one space");
    return {s.substr(0, sp), s.substr(sp + 1)};
  }
  if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) return {m[0].get<std::string>(), m[1].get<std::string>()};
  fail(what, ": merge ", rank, " is neither \"a b\" nor [\"a\", \"b\"]");
}

void load_model(const json& model, const std::vector<AddedToken>& added, Impl& impl, const std::string& what);

std::string read_token_text(const json& config, const char* key, const std::string& what) {
  const auto it = config.find(key);
  if (it == config.end() || it->is_null()) return "";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) return (*it)["content"].get<std::string>();
  fail(what, ": \"", key, "\" must be a string or an object with \"content\"");
}

TokenizerConfig read_tokenizer_config(const json& c, const std::string& what) {
  if (!c.is_object()) fail(what, ": expected a JSON object");
  TokenizerConfig cfg;
  cfg.bos_token = read_token_text(c, "bos_token", what);
  cfg.eos_token = read_token_text(c, "eos_token", what);
  cfg.pad_token = read_token_text(c, "pad_token", what);
  cfg.add_bos_token = flag(c, "add_bos_token", false);
  cfg.add_eos_token = flag(c, "add_eos_token", false);
  if (const auto it = c.find("chat_template"); it != c.end() && !it->is_null()) {
    if (it->is_string()) {
      cfg.chat_template = it->get<std::string>();
    } else if (it->is_array()) {  // [{name, template}, ...]: the one named "default"
      for (const json& t : *it)
        if (t.is_object() && t.value("name", "") == "default" && t.contains("template") && t["template"].is_string())
          cfg.chat_template = t["template"].get<std::string>();
    } else {
      fail(what, ": \"chat_template\" must be a string");
    }
  }
  return cfg;
}

}  // namespace

Tokenizer Tokenizer::from_json(const json& tj, const json* config, const std::string& what) {
  try {
    return from_json_checked(tj, config, what);
  } catch (const json::exception& e) {  // a field of the wrong JSON type
    fail(what, ": ", e.what());
  }
}

Tokenizer Tokenizer::from_json_checked(const json& tj, const json* config, const std::string& what) {
  if (!tj.is_object()) fail(what, ": expected a JSON object");
  auto impl = std::make_unique<Impl>();
  check_normalizer(tj.value("normalizer", json()), what);
  check_decoder(tj.value("decoder", json()), what);
  check_post_processor(tj.value("post_processor", json()), what);
  impl->pre_tokenizer.add_from_json(tj.value("pre_tokenizer", json()), what);
  if (!tj.contains("model")) fail(what, ": no \"model\"");
  check_bpe_options(tj["model"], what);
  std::vector<AddedToken> added = read_added_tokens(tj, what);
  load_model(tj["model"], added, *impl, what);
  impl->added = AddedTokens(std::move(added));
  if (config) impl->config = read_tokenizer_config(*config, what + " (tokenizer_config.json)");
  auto role_id = [&](const std::string& text, const char* role) {
    if (text.empty()) return int32_t(-1);
    const auto it = impl->text_to_id.find(text);
    if (it == impl->text_to_id.end()) fail(what, ": ", role, " '", text, "' is not a token");
    return it->second;
  };
  impl->bos_id = role_id(impl->config.bos_token, "bos_token");
  impl->eos_id = role_id(impl->config.eos_token, "eos_token");
  return Tokenizer(std::move(impl));
}

Tokenizer Tokenizer::load(const std::string& dir) {
  namespace fs = std::filesystem;
  if (fs::path(dir).extension() == ".gguf") return tokenizer_from_gguf(GgufFile(dir).contents(), dir);  // llama.cpp's
  const fs::path tj = fs::path(dir) / "tokenizer.json", cj = fs::path(dir) / "tokenizer_config.json";
  if (!fs::exists(tj)) fail(dir, ": no tokenizer.json");
  const json tokenizer_json = read_json_file(tj.string());
  if (!fs::exists(cj)) return from_json(tokenizer_json, nullptr, tj.string());
  const json config = read_json_file(cj.string());
  return from_json(tokenizer_json, &config, tj.string());
}

namespace {

// The vocab and merges of model (type BPE), and the id tables with the added tokens over them.
void load_model(const json& model, const std::vector<AddedToken>& added, Impl& impl, const std::string& what) {
  const auto vit = model.find("vocab");
  const auto mit = model.find("merges");
  if (vit == model.end() || !vit->is_object()) fail(what, ": model has no \"vocab\" object");
  if (mit == model.end() || !mit->is_array()) fail(what, ": model has no \"merges\" array");
  // A bound on ids keeps a damaged file from asking for gigabytes of tables.
  const int64_t max_id = 4 * int64_t(vit->size() + added.size()) + 1024;
  int32_t n = 0;
  std::unordered_map<std::string, int32_t> vocab;
  vocab.reserve(vit->size());
  for (const auto& [text, idj] : vit->items()) {
    if (!idj.is_number_integer() || idj.get<int64_t>() < 0 || idj.get<int64_t>() > max_id)
      fail(what, ": vocab entry '", text, "' has a bad id");
    const int32_t id = idj.get<int32_t>();
    vocab[text] = id;
    n = std::max(n, id + 1);
  }
  for (const AddedToken& a : added) {
    if (a.id > max_id) fail(what, ": added token '", a.content, "' has a bad id");
    n = std::max(n, a.id + 1);
  }
  impl.bytes.assign(size_t(n), "");
  impl.token_text.assign(size_t(n), "");
  impl.kind.assign(size_t(n), Impl::Kind::kUnused);
  impl.special.assign(size_t(n), 0);
  for (const auto& [text, id] : vocab) {
    // A vocab string outside the ByteLevel alphabet cannot come out of BPE; it decodes as its
    // own text (DeepSeek stores its first added tokens in the vocab too).
    auto raw = byte_level::decode(text);
    impl.bytes[size_t(id)] = raw ? std::move(*raw) : text;
    impl.token_text[size_t(id)] = text;
    impl.kind[size_t(id)] = Impl::Kind::kBytes;
  }
  std::array<int32_t, 256> byte_ids{};
  for (int b = 0; b < 256; ++b) {
    const auto it = vocab.find(byte_level::encode(std::string(1, char(b))));
    if (it == vocab.end()) fail(what, ": the vocab has no token for byte 0x", std::hex, b);
    byte_ids[size_t(b)] = it->second;
  }
  std::vector<BpeModel::Merge> merges;
  merges.reserve(mit->size());
  auto id_of = [&](const std::string& s, size_t rank) {
    const auto it = vocab.find(s);
    if (it == vocab.end()) fail(what, ": merge ", rank, ": '", s, "' is not in the vocab");
    return it->second;
  };
  for (size_t rank = 0; rank < mit->size(); ++rank) {
    const auto [l, r] = read_merge((*mit)[rank], rank, what);
    merges.push_back({id_of(l, rank), id_of(r, rank), id_of(l + r, rank)});
  }
  const bool ignore_merges = flag(model, "ignore_merges", false);
  std::unordered_map<std::string, int32_t> whole_words;
  if (ignore_merges)
    for (const auto& [text, id] : vocab)
      if (auto raw = byte_level::decode(text)) whole_words[*raw] = id;
  impl.bpe = std::make_unique<BpeModel>(byte_ids, merges, ignore_merges, std::move(whole_words));
  impl.text_to_id = std::move(vocab);
  for (const AddedToken& a : added) {
    impl.bytes[size_t(a.id)] = a.content;
    impl.token_text[size_t(a.id)] = a.content;
    impl.kind[size_t(a.id)] = Impl::Kind::kAdded;
    impl.special[size_t(a.id)] = a.special;
    impl.text_to_id[a.content] = a.id;
  }
}

}  // namespace

}  // namespace dsv3
