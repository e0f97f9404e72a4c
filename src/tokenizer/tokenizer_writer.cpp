#include "tokenizer/tokenizer_writer.h"

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/deepseek_format.h"

namespace dsv3 {

namespace {

using ojson = nlohmann::ordered_json;
namespace ds = deepseek_format;

ojson added_token(int32_t id, const ds::SpecialToken& t) {
  return ojson{{"id", id},         {"content", t.content}, {"single_word", false}, {"lstrip", false},
               {"rstrip", false},  {"normalized", !t.special}, {"special", t.special}};
}

ojson config_token(const std::string& content) {
  return ojson{{"__type", "AddedToken"}, {"content", content}, {"lstrip", false},
               {"normalized", true},      {"rstrip", false},     {"single_word", false}};
}

ojson tokenizer_json(const BpeVocab& v) {
  const auto& lead = ds::leading_tokens();
  const auto& trail = ds::trailing_tokens();
  const int32_t first_bpe = int32_t(lead.size());
  ojson vocab = ojson::object(), added = ojson::array();
  for (size_t i = 0; i < lead.size(); ++i) {
    vocab[lead[i].content] = int32_t(i);
    added.push_back(added_token(int32_t(i), lead[i]));
  }
  for (size_t i = 0; i < v.tokens.size(); ++i) vocab[byte_level::encode(v.tokens[i])] = first_bpe + int32_t(i);
  const int32_t first_trailing = first_bpe + int32_t(v.tokens.size());
  for (size_t i = 0; i < trail.size(); ++i) added.push_back(added_token(first_trailing + int32_t(i), trail[i]));
  ojson merges = ojson::array();
  for (const auto& m : v.merges)
    merges.push_back(byte_level::encode(v.tokens[size_t(m[0])]) + " " + byte_level::encode(v.tokens[size_t(m[1])]));
  const ojson byte_level_step = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}};
  ojson post = byte_level_step;
  post["trim_offsets"] = false;
  ojson model = {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"continuing_subword_prefix", nullptr},
                 {"end_of_word_suffix", nullptr}, {"fuse_unk", false}, {"byte_fallback", false},
                 {"vocab", std::move(vocab)}, {"merges", std::move(merges)}};
  return ojson{{"version", "1.0"},
               {"truncation", nullptr},
               {"padding", nullptr},
               {"added_tokens", std::move(added)},
               {"normalizer", {{"type", "Sequence"}, {"normalizers", ojson::array()}}},
               {"pre_tokenizer", ds::pre_tokenizer()},
               {"post_processor", post},
               {"decoder", byte_level_step},
               {"model", std::move(model)}};
}

ojson tokenizer_config() {
  const auto& lead = ds::leading_tokens();
  return ojson{{"add_bos_token", true},
               {"add_eos_token", false},
               {"bos_token", config_token(lead[0].content)},
               {"clean_up_tokenization_spaces", false},
               {"eos_token", config_token(lead[1].content)},
               {"legacy", true},
               {"model_max_length", 131072},
               {"pad_token", config_token(lead[1].content)},
               {"sp_model_kwargs", ojson::object()},
               {"unk_token", nullptr},
               {"tokenizer_class", "LlamaTokenizerFast"},
               {"chat_template", ChatTemplate::deepseek_v3_jinja()}};
}

void write_file(const std::filesystem::path& path, const ojson& j, int indent) {
  std::ofstream out(path, std::ios::binary);
  if (!out) fail(path.string(), ": cannot create");
  out << j.dump(indent) << "\n";
  if (!out.flush()) fail(path.string(), ": write failed");
}

}  // namespace

size_t special_token_count() { return ds::leading_tokens().size() + ds::trailing_tokens().size(); }

void write_tokenizer_dir(const std::string& dir, const BpeVocab& vocab) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) fail(dir, ": cannot create directory (", ec.message(), ")");
  write_file(std::filesystem::path(dir) / "tokenizer.json", tokenizer_json(vocab), -1);
  write_file(std::filesystem::path(dir) / "tokenizer_config.json", tokenizer_config(), 1);
}

}  // namespace dsv3
