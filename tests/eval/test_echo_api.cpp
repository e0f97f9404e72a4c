// /v1/completions with echo: true and logprobs, against OpenAI's documented legacy shape
// (choices[].text = prompt + completion; logprobs.tokens / token_logprobs / top_logprobs /
// text_offset, one entry per token, the first prompt token's logprob and top_logprobs null), and
// against what lm-evaluation-harness's completions backend reads from it (echo, logprobs 1,
// max_tokens 1: token_logprobs[ctxlen:-1] summed, greedy when each equals its top value).
#include <gtest/gtest.h>

#include <cmath>

#include "server_process.h"
#include "test_util.h"
#include "io/json_file.h"
#include "tokenizer/tokenizer.h"

namespace dsv3 {
namespace {

using test::call;
using test::Reply;

class EchoApi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new test::ServerProcess("--model " + test::data_path("../../models/default") + " --name default"); }
  static void TearDownTestSuite() { delete server_; }
  static Reply complete(const json& body) { return call(server_->port(), "POST", "/v1/completions", body.dump()); }
  static test::ServerProcess* server_;
};
test::ServerProcess* EchoApi::server_ = nullptr;

const std::string kText = "dog, domestic dog: a member of the genus Canis";

// BOS, then the text's tokens (the default tokenizer adds BOS).
std::vector<int32_t> prompt_ids() {
  static const std::vector<int32_t> ids = Tokenizer::load(test::data_path("../../models/default")).encode_for_model(kText);
  return ids;
}

void expect_legacy_shape(const json& lp, size_t n_tokens) {
  ASSERT_TRUE(lp.is_object()) << lp.dump();
  for (const char* k : {"tokens", "token_logprobs", "top_logprobs", "text_offset"}) {
    ASSERT_TRUE(lp[k].is_array()) << k;
    EXPECT_EQ(lp[k].size(), n_tokens) << k;
  }
  EXPECT_TRUE(lp["token_logprobs"][0].is_null());
  EXPECT_TRUE(lp["top_logprobs"][0].is_null());
  EXPECT_EQ(lp["text_offset"][0], 0);
  for (size_t i = 1; i < n_tokens; ++i) {
    ASSERT_TRUE(lp["token_logprobs"][i].is_number()) << i;
    EXPECT_LE(lp["token_logprobs"][i].get<double>(), 0.0);
    ASSERT_TRUE(lp["top_logprobs"][i].is_object()) << i;
    EXPECT_EQ(lp["top_logprobs"][i].size(), 1u);  // logprobs: 1
    EXPECT_GE(lp["text_offset"][i].get<int64_t>(), lp["text_offset"][i - 1].get<int64_t>());
    if (i + 1 < n_tokens) {  // offsets index the text: each token's text spans to the next offset
      EXPECT_EQ(lp["text_offset"][i + 1].get<size_t>() - lp["text_offset"][i].get<size_t>(), lp["tokens"][i].get<std::string>().size()) << i;
    }
    // The top alternative is at least as likely as the token itself.
    EXPECT_GE(lp["top_logprobs"][i].begin().value().get<double>(), lp["token_logprobs"][i].get<double>() - 1e-6);
  }
}

TEST_F(EchoApi, MaxTokensZeroReturnsThePromptWithItsLogprobs) {
  const std::vector<int32_t> kPrompt = prompt_ids();
  ASSERT_GT(kPrompt.size(), 5u);
  const Reply r = complete({{"model", "default"}, {"prompt", kPrompt}, {"echo", true}, {"logprobs", 1}, {"max_tokens", 0}});
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.j["object"], "text_completion");
  ASSERT_EQ(r.j["choices"].size(), 1u);
  const json& c = r.j["choices"][0];
  EXPECT_EQ(c["finish_reason"], "length");
  EXPECT_EQ(r.j["usage"]["prompt_tokens"], kPrompt.size());
  EXPECT_EQ(r.j["usage"]["completion_tokens"], 0);
  expect_legacy_shape(c["logprobs"], kPrompt.size());
  // The text is the prompt's (BOS, a special token, writes none: the second token starts at 0).
  EXPECT_EQ(c["text"], kText);
  EXPECT_EQ(c["logprobs"]["text_offset"][1], 0);
}

TEST_F(EchoApi, WhatLmEvaluationHarnessReads) {
  const std::vector<int32_t> kPrompt = prompt_ids();
  // Its loglikelihood request: echo, logprobs 1, max_tokens 1, temperature 0.
  const json req = {{"model", "default"}, {"prompt", kPrompt}, {"echo", true}, {"logprobs", 1}, {"max_tokens", 1}, {"temperature", 0}};
  const Reply r = complete(req);
  ASSERT_EQ(r.status, 200) << r.raw;
  const json& c = r.j["choices"][0];
  const json& lp = c["logprobs"];
  expect_legacy_shape(lp, kPrompt.size() + 1);  // the prompt, then the one generated token
  // The generated token is greedy: its logprob is its own top value.
  const double gen = lp["token_logprobs"][kPrompt.size()];
  EXPECT_EQ(lp["top_logprobs"][kPrompt.size()].begin().value().get<double>(), gen);
  const int32_t next = c["token_ids"][0];
  // The same token echoed as part of a longer prompt gets the same logprob: the prompt's
  // scoring and the generation see one model.
  std::vector<int32_t> longer = kPrompt;
  longer.push_back(next);
  const Reply again = complete({{"model", "default"}, {"prompt", longer}, {"echo", true}, {"logprobs", 1}, {"max_tokens", 0}});
  ASSERT_EQ(again.status, 200) << again.raw;
  EXPECT_NEAR(again.j["choices"][0]["logprobs"]["token_logprobs"][kPrompt.size()].get<double>(), gen, 1e-4);
  // And the prompt's entries are the same with or without a completion after them.
  for (size_t i = 1; i < kPrompt.size(); ++i)
    EXPECT_NEAR(again.j["choices"][0]["logprobs"]["token_logprobs"][i].get<double>(), lp["token_logprobs"][i].get<double>(), 1e-6);
  // The completion's text follows the prompt's; its offset continues the prompt's.
  EXPECT_EQ(c["text"].get<std::string>().rfind(kText, 0), 0u);
  EXPECT_EQ(lp["text_offset"][kPrompt.size()], kText.size());
}

TEST_F(EchoApi, TextPromptEchoedWithoutLogprobs) {
  const Reply r = complete({{"model", "default"}, {"prompt", "dog:"}, {"echo", true}, {"max_tokens", 0}});
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.j["choices"][0]["text"], "dog:");
  EXPECT_TRUE(r.j["choices"][0]["logprobs"].is_null());
  const Reply g = complete({{"model", "default"}, {"prompt", "dog:"}, {"echo", true}, {"max_tokens", 3}, {"temperature", 0}, {"ignore_eos", true}});
  ASSERT_EQ(g.status, 200) << g.raw;
  EXPECT_EQ(g.j["choices"][0]["text"].get<std::string>().rfind("dog:", 0), 0u);
  EXPECT_GT(g.j["choices"][0]["text"].get<std::string>().size(), 4u);
}

TEST_F(EchoApi, RefusedCombinations) {
  const Reply s = complete({{"model", "default"}, {"prompt", "dog:"}, {"echo", true}, {"stream", true}});
  EXPECT_EQ(s.status, 400);
  EXPECT_EQ(s.j["error"]["param"], "echo");
  const Reply z = complete({{"model", "default"}, {"prompt", "dog:"}, {"max_tokens", 0}});
  EXPECT_EQ(z.status, 400);
  EXPECT_EQ(z.j["error"]["param"], "max_tokens");
  const Reply chat = call(server_->port(), "POST", "/v1/chat/completions",
                          json{{"model", "default"}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}, {"max_tokens", 0}}.dump());
  EXPECT_EQ(chat.status, 400);
}

}  // namespace
}  // namespace dsv3
