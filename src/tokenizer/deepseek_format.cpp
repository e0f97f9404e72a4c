#include "io/json_file.h"
#include "tokenizer/deepseek_format.h"

namespace dsv3::deepseek_format {

const std::vector<SpecialToken>& leading_tokens() {
  static const std::vector<SpecialToken> t = {
      {"<｜begin▁of▁sentence｜>", true}, {"<｜end▁of▁sentence｜>", true}, {"<｜▁pad▁｜>", true}};
  return t;
}

const std::vector<SpecialToken>& trailing_tokens() {
  static const std::vector<SpecialToken> t = {
      {"<｜fim▁hole｜>", false},          {"<｜fim▁begin｜>", false},         {"<｜fim▁end｜>", false},
      {"<｜User｜>", false},             {"<｜Assistant｜>", false},         {"<|EOT|>", true},
      {"<｜tool▁calls▁begin｜>", false}, {"<｜tool▁calls▁end｜>", false},   {"<｜tool▁call▁begin｜>", false},
      {"<｜tool▁call▁end｜>", false},    {"<｜tool▁outputs▁begin｜>", false}, {"<｜tool▁outputs▁end｜>", false},
      {"<｜tool▁output▁begin｜>", false}, {"<｜tool▁output▁end｜>", false},  {"<｜tool▁sep｜>", false}};
  return t;
}

nlohmann::ordered_json pre_tokenizer() {
  // Copied from DeepSeek-V3's tokenizer.json.
  static const char* kJson = R"JSON({"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": "\\p{N}{1,3}"}, "behavior": "Isolated", "invert": false}, {"type": "Split", "pattern": {"Regex": "[一-龥぀-ゟ゠-ヿ]+"}, "behavior": "Isolated", "invert": false}, {"type": "Split", "pattern": {"Regex": "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"}, "behavior": "Isolated", "invert": false}, {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}]})JSON";
  return nlohmann::ordered_json::parse(kJson);
}

}  // namespace dsv3::deepseek_format
