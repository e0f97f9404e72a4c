#include "tokenizer/gguf_tokenizer.h"

#include <map>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace dsv3 {

using json = nlohmann::json;

namespace {

enum TokenType : int32_t { kNormal = 1, kControl = 3, kUserDefined = 4, kUnused = 5 };

// DeepSeek-V3's pre-tokenizer as its tokenizer.json writes it: llama.cpp calls it "deepseek-v3".
const char* kDeepseekV3Pre = R"({"type": "Sequence", "pretokenizers": [
  {"type": "Split", "pattern": {"Regex": "\\p{N}{1,3}"}, "behavior": "Isolated", "invert": false},
  {"type": "Split", "pattern": {"Regex": "[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+"}, "behavior": "Isolated", "invert": false},
  {"type": "Split", "pattern": {"Regex": "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"}, "behavior": "Isolated", "invert": false},
  {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}]})";

const json& deepseek_v3_pre() {
  static const json j = json::parse(kDeepseekV3Pre);
  return j;
}

std::string merge_text(const json& m) {
  if (m.is_array() && m.size() == 2) return m[0].get<std::string>() + " " + m[1].get<std::string>();
  return m.get<std::string>();
}

std::string token_text(const json& config, const char* key) {
  const auto it = config.find(key);
  if (it == config.end() || it->is_null()) return "";
  if (it->is_object()) return it->value("content", "");
  return it->is_string() ? it->get<std::string>() : "";
}

const GgufValue* find(const GgufContents& c, const std::string& key) {
  auto it = c.metadata.find(key);
  return it == c.metadata.end() ? nullptr : &it->second;
}

std::string string_key(const GgufContents& c, const std::string& key, const std::string& path) {
  const GgufValue* v = find(c, key);
  if (!v) return "";
  if (v->kind != GgufValue::String) fail(path, ": metadata '", key, "' must be a string");
  return v->s;
}

const std::vector<GgufValue>& array_key(const GgufContents& c, const std::string& key, const std::string& path,
                                        GgufValue::Kind item) {
  const GgufValue* v = find(c, key);
  if (!v) fail(path, ": missing metadata '", key, "' (the file has no tokenizer)");
  if (v->kind != GgufValue::Array) fail(path, ": metadata '", key, "' must be an array");
  for (const GgufValue& x : v->items)
    if (x.kind != item) fail(path, ": metadata '", key, "' has an element of the wrong type");
  return v->items;
}

}  // namespace

void add_gguf_tokenizer(GgufWriter& w, const json& tj, const json* config, int64_t n_vocab, const std::string& what) {
  if (tj.value("pre_tokenizer", json()) != deepseek_v3_pre())
    fail(what, ": the pre-tokenizer is not DeepSeek-V3's, the only one dsv3 can name for llama.cpp");
  const json& model = tj.at("model");
  std::vector<std::string> tokens(static_cast<size_t>(n_vocab));
  std::vector<int32_t> types(size_t(n_vocab), kUnused);
  auto place = [&](int64_t id, const std::string& text, int32_t type) {
    if (id < 0 || id >= n_vocab) fail(what, ": token '", text, "' has id ", id, ", outside the model's vocabulary of ", n_vocab);
    tokens[size_t(id)] = text;
    types[size_t(id)] = type;
  };
  for (const auto& [text, id] : model.at("vocab").items()) place(id.get<int64_t>(), text, kNormal);
  for (const json& a : tj.value("added_tokens", json::array()))
    place(a.at("id").get<int64_t>(), a.at("content").get<std::string>(), a.value("special", false) ? kControl : kUserDefined);
  for (int64_t i = 0; i < n_vocab; ++i)
    if (types[size_t(i)] == kUnused) tokens[size_t(i)] = cat("[PAD", i, "]");
  std::vector<std::string> merges;
  for (const json& m : model.at("merges")) merges.push_back(merge_text(m));

  w.add_string("tokenizer.ggml.model", "gpt2");
  w.add_string("tokenizer.ggml.pre", "deepseek-v3");
  w.add_strings("tokenizer.ggml.tokens", tokens);
  w.add_i32s("tokenizer.ggml.token_type", types);
  w.add_strings("tokenizer.ggml.merges", merges);
  if (!config) return;
  std::map<std::string, int64_t> id_of;
  for (int64_t i = 0; i < n_vocab; ++i) id_of.emplace(tokens[size_t(i)], i);
  const std::pair<const char*, const char*> roles[] = {
      {"bos_token", "bos_token_id"}, {"eos_token", "eos_token_id"}, {"pad_token", "padding_token_id"}};
  for (const auto& [key, role] : roles) {
    const std::string text = token_text(*config, key);
    if (text.empty()) continue;
    auto it = id_of.find(text);
    if (it == id_of.end()) fail(what, ": ", key, " '", text, "' is not a token");
    w.add_u32(std::string("tokenizer.ggml.") + role, uint32_t(it->second));
  }
  w.add_bool("tokenizer.ggml.add_bos_token", config->value("add_bos_token", false));
  w.add_bool("tokenizer.ggml.add_eos_token", config->value("add_eos_token", false));
  const auto t = config->find("chat_template");
  if (t != config->end() && t->is_string()) w.add_string("tokenizer.chat_template", t->get<std::string>());
}

Tokenizer tokenizer_from_gguf(const GgufContents& c, const std::string& path) {
  const std::string kind = string_key(c, "tokenizer.ggml.model", path);
  if (kind != "gpt2") fail(path, ": tokenizer.ggml.model is '", kind, "'; dsv3 reads byte-level BPE tokenizers (gpt2)");
  const std::string pre = string_key(c, "tokenizer.ggml.pre", path);
  if (pre != "deepseek-v3")
    fail(path, ": tokenizer.ggml.pre is '", pre, "'; dsv3 knows the pre-tokenizer deepseek-v3 only");
  const auto& tokens = array_key(c, "tokenizer.ggml.tokens", path, GgufValue::String);
  const auto& merges = array_key(c, "tokenizer.ggml.merges", path, GgufValue::String);
  const std::vector<GgufValue>* types = find(c, "tokenizer.ggml.token_type") ? &array_key(c, "tokenizer.ggml.token_type", path, GgufValue::Int) : nullptr;
  if (types && types->size() != tokens.size())
    fail(path, ": tokenizer.ggml.token_type has ", types->size(), " entries for ", tokens.size(), " tokens");

  json vocab = json::object(), added = json::array();
  for (size_t i = 0; i < tokens.size(); ++i) {
    const int64_t type = types ? (*types)[i].i : int64_t(kNormal);
    if (type == kUnused) continue;
    // Added tokens stay in the vocab too, as DeepSeek's tokenizer.json keeps its first ones.
    vocab[tokens[i].s] = int64_t(i);
    if (type == kControl || type == kUserDefined)
      added.push_back({{"id", int64_t(i)}, {"content", tokens[i].s}, {"single_word", false}, {"lstrip", false},
                       {"rstrip", false}, {"normalized", false}, {"special", type == kControl}});
  }
  json merge_list = json::array();
  for (const GgufValue& m : merges) merge_list.push_back(m.s);
  const json tj = {
      {"added_tokens", added},
      {"normalizer", {{"type", "Sequence"}, {"normalizers", json::array()}}},
      {"pre_tokenizer", deepseek_v3_pre()},
      {"post_processor", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", false}, {"use_regex", true}}},
      {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}}},
      {"model", {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"continuing_subword_prefix", nullptr},
                 {"end_of_word_suffix", nullptr}, {"fuse_unk", false}, {"byte_fallback", false},
                 {"vocab", vocab}, {"merges", merge_list}}}};
  json config = json::object();
  auto role = [&](const char* key, const char* name) {
    const GgufValue* v = find(c, std::string("tokenizer.ggml.") + key);
    if (!v) return;
    if (v->kind != GgufValue::Int || v->i < 0 || v->i >= int64_t(tokens.size()))
      fail(path, ": tokenizer.ggml.", key, " is not a token id");
    config[name] = tokens[size_t(v->i)].s;
  };
  role("bos_token_id", "bos_token");
  role("eos_token_id", "eos_token");
  role("padding_token_id", "pad_token");
  for (const char* flag : {"add_bos_token", "add_eos_token"})
    if (const GgufValue* v = find(c, std::string("tokenizer.ggml.") + flag)) config[flag] = v->i != 0;
  const std::string tmpl = string_key(c, "tokenizer.chat_template", path);
  if (!tmpl.empty()) config["chat_template"] = tmpl;
  return Tokenizer::from_json(tj, &config, path);
}

}  // namespace dsv3
