// tokenizer.json variants: unsupported components give errors naming them; the chat template;
// the BPE trainer's output read back; the command line.
#include <gtest/gtest.h>

#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "test_util.h"
#include "tokenizer/bpe_trainer.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer_writer.h"
#include "tokenizer_fixture.h"

namespace dsv3::test {
namespace {

using json = nlohmann::json;

// A small tokenizer.json of the DeepSeek shape: bytes, a few merges, two added tokens.
json small_tokenizer_json() {
  json vocab = json::object();
  const auto shown = [](int b) {
    const bool itself = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    static int next = 0x100;
    static std::map<int, int> cache;
    if (!cache.count(b)) cache[b] = itself ? b : next++;
    return cache[b];
  };
  for (int b = 0; b < 256; ++b) shown(b);  // assign in byte order
  for (int b = 0; b < 256; ++b) {
    std::string s;
    const int cp = shown(b);
    if (cp < 0x80) s += char(cp);
    else s += char(0xC0 | (cp >> 6)), s += char(0x80 | (cp & 0x3F));
    vocab[s] = b;
  }
  vocab["he"] = 256;
  vocab["ll"] = 257;
  vocab["hell"] = 258;
  vocab["Ġw"] = 259;
  return json{{"added_tokens", json::array({{{"id", 260}, {"content", "<s>"}, {"special", true}},
                                            {{"id", 261}, {"content", "<x>"}, {"special", false}, {"rstrip", true}}})},
              {"normalizer", nullptr},
              {"pre_tokenizer", json::parse(R"({"type":"Sequence","pretokenizers":[{"type":"Split","pattern":{"Regex":" ?\\w+|\\s+|[^\\s\\w]+"},"behavior":"Isolated","invert":false},{"type":"ByteLevel","add_prefix_space":false,"use_regex":false}]})")},
              {"post_processor", nullptr},
              {"decoder", {{"type", "ByteLevel"}}},
              {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", json::array({"h e", "l l", json::array({"he", "ll"}), "Ġ w"})}}}};
}

std::string load_error(const json& tj) {
  try {
    Tokenizer::from_json(tj, nullptr, "tok.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(TokenizerFiles, SmallFileEncodes) {
  const Tokenizer tok = Tokenizer::from_json(small_tokenizer_json(), nullptr, "small");
  EXPECT_EQ(tok.encode("hello"), (std::vector<int32_t>{258, 'o'}));
  EXPECT_EQ(tok.encode("<x>  hell"), (std::vector<int32_t>{261, 258}));  // rstrip eats the spaces
  EXPECT_EQ(tok.encode("<s> w"), (std::vector<int32_t>{260, 259}));
  EXPECT_EQ(tok.decode({260, 258}, true), "hell");
}

TEST(TokenizerFiles, UnsupportedComponentsAreNamed) {
  auto with = [](const char* key, const json& value) {
    json t = small_tokenizer_json();
    t[key] = value;
    return load_error(t);
  };
  EXPECT_NE(with("normalizer", {{"type", "NFKC"}}).find("normalizer \"NFKC\""), std::string::npos);
  EXPECT_NE(with("pre_tokenizer", {{"type", "Metaspace"}}).find("pre-tokenizer \"Metaspace\""), std::string::npos);
  EXPECT_NE(with("decoder", {{"type", "WordPiece"}}).find("decoder \"WordPiece\""), std::string::npos);
  EXPECT_NE(with("post_processor", {{"type", "BertProcessing"}}).find("\"BertProcessing\""), std::string::npos);
  json t = small_tokenizer_json();
  t["model"]["type"] = "Unigram";
  EXPECT_NE(load_error(t).find("model \"Unigram\""), std::string::npos);
  t = small_tokenizer_json();
  t["model"]["byte_fallback"] = true;
  EXPECT_NE(load_error(t).find("byte_fallback"), std::string::npos);
  t = small_tokenizer_json();
  t["model"]["merges"].push_back("x zz");
  EXPECT_NE(load_error(t).find("'zz' is not in the vocab"), std::string::npos);
  t = small_tokenizer_json();
  t["model"]["vocab"].erase("a");
  EXPECT_NE(load_error(t).find("no token for byte 0x61"), std::string::npos);
  t = small_tokenizer_json();
  t["pre_tokenizer"]["pretokenizers"][0]["behavior"] = "MergedWithPrevious";
  EXPECT_NE(load_error(t).find("MergedWithPrevious"), std::string::npos);
  t = small_tokenizer_json();
  t["model"]["vocab"]["he"] = "x";
  EXPECT_NE(load_error(t).find("tok.json"), std::string::npos);
  t = small_tokenizer_json();
  t["model"]["vocab"]["he"] = 1 << 30;
  EXPECT_NE(load_error(t).find("bad id"), std::string::npos);
  EXPECT_NE(load_error(json::array()).find("tok.json"), std::string::npos);
}

TEST(TokenizerFiles, MissingFolderOrFile) {
  TempDir dir;
  EXPECT_THROW(Tokenizer::load(dir.path()), Error);
  write_text(dir.file("tokenizer.json"), "{not json");
  EXPECT_THROW(Tokenizer::load(dir.path()), Error);
}

json conversation() {
  return json::parse(R"([
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Weather in Paris?"},
    {"role": "assistant", "content": null, "tool_calls": [
      {"type": "function", "function": {"name": "weather", "arguments": "{\"city\": \"Paris\"}"}}]},
    {"role": "tool", "content": "18C"},
    {"role": "assistant", "content": "18 degrees."},
    {"role": "system", "content": "Be kind."},
    {"role": "user", "content": "Thanks"}])");
}

TEST(ChatTemplate, RendersTheDeepSeekV3Forms) {
  const Tokenizer& tok = deepseek_v3_tokenizer();
  EXPECT_EQ(tok.render_chat(conversation(), true),
            "<｜begin▁of▁sentence｜>You are terse.\n\nBe kind.<｜User｜>Weather in Paris?"
            "<｜Assistant｜><｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>weather\n```json\n"
            "{\"city\": \"Paris\"}\n```<｜tool▁call▁end｜><｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>18C"
            "<｜tool▁output▁end｜><｜tool▁outputs▁end｜>18 degrees.<｜end▁of▁sentence｜><｜User｜>Thanks<｜Assistant｜>");
  const json ends_in_tool = json::parse(R"([{"role":"tool","content":"a"},{"role":"tool","content":"b"}])");
  EXPECT_EQ(tok.render_chat(ends_in_tool, true),
            "<｜begin▁of▁sentence｜><｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>a<｜tool▁output▁end｜>\n"
            "<｜tool▁output▁begin｜>b<｜tool▁output▁end｜><｜tool▁outputs▁end｜>");
  EXPECT_EQ(tok.render_chat(json::array(), false), "<｜begin▁of▁sentence｜>");
}

TEST(ChatTemplate, BadMessagesAndOtherTemplatesAreErrors) {
  const Tokenizer& tok = deepseek_v3_tokenizer();
  EXPECT_THROW(tok.render_chat(json::parse(R"([{"role":"user"}])"), true), Error);
  EXPECT_THROW(tok.render_chat(json::parse(R"([{"role":"user","content":5}])"), true), Error);
  EXPECT_THROW(tok.render_chat(json::parse(R"([{"role":"assistant","content":null}])"), true), Error);
  EXPECT_THROW(tok.render_chat(json::parse(R"({"role":"user"})"), true), Error);
  TokenizerConfig other;
  other.chat_template = "{% for m in messages %}{{ m.content }}{% endfor %}";
  EXPECT_THROW(ChatTemplate::from_config(other), Error);
  EXPECT_THROW(ChatTemplate::from_config(TokenizerConfig{}), Error);
}

TEST(BpeTrainer, TrainedFilesLoadAndRoundTrip) {
  const std::string corpus = read_text("/usr/share/common-licenses/GPL-3") + read_text(data_path("tokenizer/text/zh.txt"));
  const Tokenizer& ds = deepseek_v3_tokenizer();
  TempDir dir;
  const std::string out = dir.file("tok");
  ASSERT_EQ(run_dsv3("tokenizer-train --input " + data_path("tokenizer/text") + ",/usr/share/common-licenses/GPL-3" +
                     " --vocab-size 1000 --out " + out).exit_code, 0);
  const Tokenizer tok = Tokenizer::load(out);
  EXPECT_EQ(tok.vocab_size(), 1000);
  EXPECT_EQ(tok.bos_id(), 0);
  EXPECT_EQ(tok.eos_id(), 1);
  EXPECT_EQ(*tok.token_to_id("<｜User｜>"), 1000 - int32_t(special_token_count()) + 3 + 3);
  const std::string sample = "This License 你好 <｜User｜>hi<｜Assistant｜>";
  EXPECT_EQ(tok.decode(tok.encode(sample)), sample);
  EXPECT_LT(tok.encode(corpus).size(), corpus.size() / 2);  // it learned something
  EXPECT_EQ(tok.render_chat(conversation(), true), ds.render_chat(conversation(), true));
}

TEST(BpeTrainer, MostFrequentPairMergesFirst) {
  WordCounts words = {{"abab", 10}, {"ab", 3}, {"cd", 5}};
  BpeTrainOptions opt;
  opt.vocab_size = 259;
  const BpeVocab v = train_bpe(words, opt);
  ASSERT_EQ(v.tokens.size(), 259u);
  EXPECT_EQ(v.tokens[256], "ab");    // 23 times
  EXPECT_EQ(v.tokens[257], "abab");  // then 10 times
  EXPECT_EQ(v.tokens[258], "cd");    // 5 times
  opt.min_frequency = 6;
  EXPECT_EQ(train_bpe(words, opt).tokens.size(), 258u);  // cd is too rare
}

TEST(TokenizeCli, TextJsonlAndDetokenize) {
  const std::string dir = deepseek_v3_dir();
  auto r = run_dsv3("tokenize --tokenizer " + dir + " --text 'Hello, world!'");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "{\"ids\": [19923, 14, 2058, 3]}\n");
  TempDir tmp;
  std::string jsonl;
  const auto cases = reference_cases();
  for (size_t i = 0; i < 50; ++i) jsonl += json{{"text", cases[i].text}}.dump() + (i == 20 ? "\n\n" : "\n");
  write_text(tmp.file("in.jsonl"), jsonl);
  r = run_dsv3("tokenize --tokenizer " + dir + " --jsonl " + tmp.file("in.jsonl"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream lines(r.out);
  std::string line;
  size_t n = 0;
  while (std::getline(lines, line)) {
    ASSERT_LT(n, 50u);
    EXPECT_EQ(json::parse(line).at("ids").get<std::vector<int32_t>>(), cases[n].ids) << n;
    ++n;
  }
  EXPECT_EQ(n, 50u);
  r = run_dsv3("detokenize --tokenizer " + dir + " --ids 19923,14,2058,3");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "Hello, world!");
  write_text(tmp.file("bad.jsonl"), "{\"text\": \"ok\"}\n{\"txt\": 1}\n");
  r = run_dsv3("tokenize --tokenizer " + dir + " --jsonl " + tmp.file("bad.jsonl"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("line 2"), std::string::npos) << r.err;
  r = run_dsv3("detokenize --tokenizer " + dir + " --ids 1,x");
  EXPECT_EQ(r.exit_code, 1);
  write_text(tmp.file("chat.json"), conversation().dump());
  r = run_dsv3("chat-template --tokenizer " + dir + " --messages " + tmp.file("chat.json") + " --add-generation-prompt");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, deepseek_v3_tokenizer().render_chat(conversation(), true));
}

}  // namespace
}  // namespace dsv3::test
