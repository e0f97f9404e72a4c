#include "tokenizer_fixture.h"

#include <fstream>

#include <nlohmann/json.hpp>

#include "test_util.h"

namespace dsv3::test {

std::string deepseek_v3_dir() { return data_path("tokenizer/deepseek-v3"); }

const Tokenizer& deepseek_v3_tokenizer() {
  static const Tokenizer tok = Tokenizer::load(deepseek_v3_dir());
  return tok;
}

std::vector<EncodeCase> reference_cases() {
  std::ifstream in(data_path("tokenizer/cases.jsonl"));
  std::vector<EncodeCase> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const auto j = nlohmann::json::parse(line);
    out.push_back({j.at("text").get<std::string>(), j.at("decoded").get<std::string>(), j.at("ids").get<std::vector<int32_t>>()});
  }
  return out;
}

}  // namespace dsv3::test
