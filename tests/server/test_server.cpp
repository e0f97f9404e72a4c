// dsv3 serve over real loopback HTTP: greedy completions equal `dsv3 generate`, streaming,
// concurrency (continuous batching), limits (queue, body size, context), the API key,
// cancellation on disconnect, malformed requests, and graceful shutdown.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <regex>
#include <thread>

#include "io/json_file.h"
#include "server_process.h"
#include "test_util.h"

namespace dsv3 {
namespace {

using test::body_of;
using test::call;
using test::raw_http;
using test::Reply;
using test::request;
using test::sse_events;
using test::status_of;

std::string generate_ids(const std::string& model, const std::string& tokens, int n, const std::string& extra = "") {
  const auto r = test::run_dsv3("generate --model " + test::model_path(model) + " --tokens " + tokens +
                                " --max-new-tokens " + std::to_string(n) + " --temperature 0 --ids " + extra);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out.substr(0, r.out.find('\n'));
}

double metric(int port, const std::string& name) {
  const std::string m = call(port, "GET", "/metrics").body;
  const std::regex re("\n" + name + " ([0-9.eE+-]+)");
  std::smatch s;
  return std::regex_search(m, s, re) ? std::stod(s[1]) : -1.0;
}

bool wait_for(const std::function<bool()>& cond, double seconds) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return cond();
}

using test::RawConnection;

class Serve : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new test::ServerProcess("--model " + test::model_path("v3-tiny") + " --context 64"); }
  static void TearDownTestSuite() { delete server_; }
  int port() const { return server_->port(); }
  static test::ServerProcess* server_;
};
test::ServerProcess* Serve::server_ = nullptr;

TEST_F(Serve, GreedyCompletionEqualsGenerate) {
  const Reply r = call(port(), "POST", "/v1/completions",
                       R"({"model":"v3-tiny","prompt":[5,9,13],"max_tokens":12,"temperature":0})");
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.j["object"], "text_completion");
  EXPECT_EQ(r.j["model"], "v3-tiny");
  EXPECT_EQ(r.j["choices"][0]["text"], generate_ids("v3-tiny", "5,9,13", 12));
  EXPECT_EQ(r.j["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(r.j["usage"]["prompt_tokens"], 3);
  EXPECT_EQ(r.j["usage"]["completion_tokens"], 12);
  EXPECT_EQ(r.j["usage"]["total_tokens"], 15);
}

TEST_F(Serve, StreamingConcatenatesToTheSameText) {
  const Reply r = call(port(), "POST", "/v1/completions",
                       R"({"model":"v3-tiny","prompt":[7,8],"max_tokens":10,"temperature":0,"stream":true,
                           "stream_options":{"include_usage":true}})");
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_NE(r.raw.find("Content-Type: text/event-stream"), std::string::npos);
  const auto ev = sse_events(r.body);
  ASSERT_GE(ev.size(), 3u);
  EXPECT_EQ(ev.back(), "[DONE]");
  std::string text, finish;
  for (size_t i = 0; i + 1 < ev.size(); ++i) {
    const json j = json::parse(ev[i]);
    if (j["choices"].empty()) {
      EXPECT_EQ(j["usage"]["completion_tokens"], 10);
      continue;
    }
    text += j["choices"][0]["text"].get<std::string>();
    if (!j["choices"][0]["finish_reason"].is_null()) finish = j["choices"][0]["finish_reason"];
  }
  EXPECT_EQ(text, generate_ids("v3-tiny", "7,8", 10));
  EXPECT_EQ(finish, "length");
}

TEST_F(Serve, ConcurrentRequestsShareStepsAndMatchGenerate) {
  const std::vector<std::string> prompts = {"5,9,13", "7", "1,2,3,4", "300,2", "11,12", "40,41,42"};
  const double steps0 = metric(port(), "dsv3_steps_total"), seqsteps0 = metric(port(), "dsv3_step_sequences_total");
  std::vector<std::future<Reply>> futs;
  for (const auto& p : prompts)
    futs.push_back(std::async(std::launch::async, [this, p] {
      return call(port(), "POST", "/v1/completions",
                  R"({"model":"v3-tiny","max_tokens":40,"temperature":0,"prompt":[)" + p + "]}");
    }));
  for (size_t i = 0; i < prompts.size(); ++i) {
    const Reply r = futs[i].get();
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.j["choices"][0]["text"], generate_ids("v3-tiny", prompts[i], 40)) << prompts[i];
  }
  // Some step ran more than one sequence in one forward.
  EXPECT_GT(metric(port(), "dsv3_step_sequences_total") - seqsteps0, metric(port(), "dsv3_steps_total") - steps0);
}

TEST_F(Serve, ChoicesSeedsStopsAndLogprobs) {
  const std::string body =
      R"({"model":"v3-tiny","prompt":[5,9,13],"max_tokens":8,"temperature":1.0,"top_k":20,"n":3,"seed":7,"logprobs":2})";
  const Reply a = call(port(), "POST", "/v1/completions", body), b = call(port(), "POST", "/v1/completions", body);
  ASSERT_EQ(a.status, 200) << a.raw;
  ASSERT_EQ(a.j["choices"].size(), 3u);
  EXPECT_EQ(a.j["choices"], b.j["choices"]);  // the seed makes it repeatable
  EXPECT_EQ(a.j["usage"]["completion_tokens"], 24);
  const json& lp = a.j["choices"][1]["logprobs"];
  ASSERT_EQ(lp["tokens"].size(), 8u);
  EXPECT_EQ(lp["top_logprobs"][0].size(), 2u);
  EXPECT_LT(lp["token_logprobs"][0].get<double>(), 0.0);
  // A stop string spanning tokens: the text of greedy ids up to (not including) it.
  const std::string full = generate_ids("v3-tiny", "5,9,13", 12);  // "315 478 259 275 ..."
  const size_t cut = full.find(' ', full.find(' ') + 1);  // after the second id
  const std::string stop = full.substr(cut, 4);               // " 259" crosses into the third
  const Reply s = call(port(), "POST", "/v1/completions",
                       R"({"model":"v3-tiny","prompt":[5,9,13],"max_tokens":12,"temperature":0,"stop":[")" + stop + R"("]})");
  ASSERT_EQ(s.status, 200) << s.raw;
  EXPECT_EQ(s.j["choices"][0]["text"], full.substr(0, cut));
  EXPECT_EQ(s.j["choices"][0]["finish_reason"], "stop");
}

TEST_F(Serve, ModelsHealthAndMetrics) {
  const Reply m = call(port(), "GET", "/v1/models");
  ASSERT_EQ(m.status, 200);
  EXPECT_EQ(m.j["data"][0]["id"], "v3-tiny");
  EXPECT_EQ(call(port(), "GET", "/v1/models/v3-tiny").status, 200);
  EXPECT_EQ(call(port(), "GET", "/v1/models/other").status, 404);
  EXPECT_EQ(call(port(), "GET", "/health").status, 200);
  const std::string text = call(port(), "GET", "/metrics").body;
  for (const char* name : {"dsv3_requests_total{", "dsv3_generation_tokens_total ", "dsv3_queue_depth ",
                           "dsv3_batch_size ", "dsv3_spec_acceptance_rate "})
    EXPECT_NE(text.find(name), std::string::npos) << name;
}

// Every malformed request: a 4xx with {"error": {"message", "type", ...}}, and the server lives.
TEST_F(Serve, MalformedRequestsGetJsonErrors) {
  const std::vector<std::pair<std::string, int>> bodies = {
      {"{not json", 400},
      {"[1,2]", 400},
      {"", 400},
      {R"({"prompt":[1]})", 400},
      {R"({"model":5,"prompt":[1]})", 400},
      {R"({"model":"nope","prompt":[1]})", 404},
      {R"({"model":"v3-tiny"})", 400},
      {R"({"model":"v3-tiny","prompt":{}})", 400},
      {R"({"model":"v3-tiny","prompt":[]})", 400},
      {R"({"model":"v3-tiny","prompt":[1,"a"]})", 400},
      {R"({"model":"v3-tiny","prompt":[1,512]})", 400},
      {R"({"model":"v3-tiny","prompt":[-1]})", 400},
      {R"({"model":"v3-tiny","prompt":[[1],[2]]})", 400},
      {R"({"model":"v3-tiny","prompt":"text needs a tokenizer"})", 400},
      {R"({"model":"v3-tiny","prompt":[1],"max_tokens":-5})", 400},
      {R"({"model":"v3-tiny","prompt":[1],"max_tokens":0})", 400},
      {R"({"model":"v3-tiny","prompt":[1],"max_tokens":"5"})", 400},
      {R"({"model":"v3-tiny","prompt":[1],"max_tokens":1.5})", 400},
      {R"({"model":"v3-tiny","prompt":[1],"max_tokens":99999999999999999999})", 400},
      {R"({"model":"v3-tiny","prompt":[1],"max_tokens":64})", 400},  // 1 + 64 > context 64
      {R"({"model":"v3-tiny","prompt":[1],"temperature":-1})", 400},
      {R"({"model":"v3-tiny","prompt":[1],"temperature":"hot"})", 400},
      {R"({"model":"v3-tiny","prompt":[1],"top_p":0})", 400},
      {R"({"model":"v3-tiny","prompt":[1],"n":0})", 400},
      {R"({"model":"v3-tiny","prompt":[1],"n":1000})", 400},
      {R"({"model":"v3-tiny","prompt":[1],"stop":5})", 400},
      {R"({"model":"v3-tiny","prompt":[1],"stop":["a","b","c","d","e"]})", 400},
      {R"({"model":"v3-tiny","prompt":[1],"logit_bias":{"x":1}})", 400},
      {R"({"model":"v3-tiny","prompt":[1],"logit_bias":{"3":500}})", 400},
      {R"({"model":"v3-tiny","prompt":[1],"stream":"yes"})", 400},
      {R"({"model":"v3-tiny","prompt":[1],"logprobs":50})", 400},
      {R"({"model":"v3-tiny","prompt":[1],"stream_options":{"include_usage":true}})", 400},
  };
  for (const auto& [body, status] : bodies) {
    const Reply r = call(port(), "POST", "/v1/completions", body);
    EXPECT_EQ(r.status, status) << body << "\n" << r.raw;
    EXPECT_TRUE(r.j.is_object() && r.j.contains("error") && r.j["error"]["message"].is_string() &&
                r.j["error"]["type"].is_string())
        << body << "\n" << r.raw;
  }
  const std::vector<std::string> chats = {
      R"({"model":"v3-tiny","messages":[]})",
      R"({"model":"v3-tiny","messages":"hi"})",
      R"({"model":"v3-tiny","messages":[{"role":"wizard","content":"hi"}]})",
      R"({"model":"v3-tiny","messages":[{"role":"user"}]})",
      R"({"model":"v3-tiny","messages":[{"role":"user","content":5}]})",
      R"({"model":"v3-tiny","messages":[{"role":"user","content":"hi"}]})",  // no tokenizer in this model
  };
  for (const auto& body : chats) {
    const Reply r = call(port(), "POST", "/v1/chat/completions", body);
    EXPECT_EQ(r.status, 400) << body << "\n" << r.raw;
    EXPECT_TRUE(r.j.contains("error")) << r.raw;
  }
  // Raw HTTP: a broken request line, a body over the limit, a wrong method, an unknown path.
  const std::string broken = raw_http(port(), "GARBAGE\r\n\r\n", 1.0);
  EXPECT_EQ(status_of(broken) / 100, 4) << broken;
  const Reply big = call(port(), "POST", "/v1/completions", std::string(2 << 20, 'x'));
  EXPECT_EQ(big.status, 413) << big.raw.substr(0, 200);
  EXPECT_TRUE(big.j.contains("error"));
  EXPECT_EQ(call(port(), "GET", "/v1/completions").status, 404);
  EXPECT_TRUE(call(port(), "GET", "/v1/nothing").j.contains("error"));
  EXPECT_EQ(call(port(), "GET", "/health").status, 200);
}

TEST_F(Serve, ClientDisconnectCancelsTheSequence) {
  const double cancelled0 = metric(port(), "dsv3_cancelled_sequences_total");
  for (bool stream : {true, false}) {
    {
      RawConnection c(port(), request("POST", "/v1/completions",
                                   std::string(R"({"model":"v3-tiny","prompt":[5],"max_tokens":62,"ignore_eos":true,)") +
                                       R"("temperature":0,"stream":)" + (stream ? "true}" : "false}")));
      if (stream) EXPECT_NE(c.read_until("data: ").find("data: "), std::string::npos);
      else std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }  // closed here
    // The context is 64 tokens, so a sequence that is not cancelled also ends soon; what tells
    // a cancellation apart is the counter.
  }
  EXPECT_TRUE(wait_for([&] { return metric(port(), "dsv3_running_sequences") == 0; }, 20));
  // Streams notice at their next write; a whole response at its next 1 s keep-alive space.
  (void)cancelled0;
}

TEST(ServeLimits, QueueFullGets429AndCancellationFreesTheSlot) {
  test::ServerProcess s("--model " + test::model_path("v3-tiny") + " --max-sequences 1 --max-queue 1");
  const std::string longreq = request(
      "POST", "/v1/completions", R"({"model":"v3-tiny","prompt":[5],"max_tokens":100000,"ignore_eos":true,"stream":true})");
  auto first = std::make_unique<RawConnection>(s.port(), longreq);
  ASSERT_NE(first->read_until("data: ").find("data: "), std::string::npos);  // running
  RawConnection second(s.port(), longreq);                                  // queued
  ASSERT_TRUE(wait_for([&] { return metric(s.port(), "dsv3_queue_depth") == 1; }, 20));
  const Reply third = call(s.port(), "POST", "/v1/completions", R"({"model":"v3-tiny","prompt":[5],"max_tokens":2})");
  EXPECT_EQ(third.status, 429) << third.raw;
  EXPECT_NE(third.raw.find("Retry-After: "), std::string::npos);
  EXPECT_TRUE(third.j.contains("error"));
  first.reset();  // the client goes away: its sequence is cancelled and the queued one runs
  EXPECT_NE(second.read_until("data: ").find("data: "), std::string::npos);
  EXPECT_TRUE(wait_for([&] { return metric(s.port(), "dsv3_cancelled_sequences_total") >= 1; }, 20));
  EXPECT_EQ(metric(s.port(), "dsv3_queue_depth"), 0);
  EXPECT_EQ(metric(s.port(), "dsv3_running_sequences"), 1);
}

TEST(ServeLimits, ApiKey) {
  test::ServerProcess s("--model " + test::model_path("v3-tiny") + " --api-key sekret");
  const std::string body = R"({"model":"v3-tiny","prompt":[5],"max_tokens":2})";
  const Reply none = call(s.port(), "POST", "/v1/completions", body);
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.j["error"]["type"], "authentication_error");
  EXPECT_EQ(call(s.port(), "POST", "/v1/completions", body, "Authorization: Bearer wrong\r\n").status, 401);
  EXPECT_EQ(call(s.port(), "GET", "/v1/models").status, 401);
  EXPECT_EQ(call(s.port(), "POST", "/v1/completions", body, "Authorization: Bearer sekret\r\n").status, 200);
  EXPECT_EQ(call(s.port(), "GET", "/health").status, 200);
}

TEST(ServeSpeculative, GreedyEqualsGenerateAndReportsAcceptance) {
  test::ServerProcess s("--model " + test::model_path("v3-tiny-fp8") + " --speculative mtp --draft 2");
  const Reply r = call(s.port(), "POST", "/v1/completions",
                       R"({"model":"v3-tiny-fp8","prompt":[5,9,13],"max_tokens":20,"temperature":0})");
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.j["choices"][0]["text"], generate_ids("v3-tiny-fp8", "5,9,13", 20));
  EXPECT_GT(metric(s.port(), "dsv3_spec_draft_tokens_total"), 0);
  EXPECT_GE(metric(s.port(), "dsv3_spec_acceptance_rate"), 0);
}

TEST(ServeShutdown, SigtermLetsRunningRequestsFinish) {
  test::ServerProcess s("--model " + test::model_path("v3-tiny") + " --max-sequences 2");
  RawConnection c(s.port(), request("POST", "/v1/completions",
                                 R"({"model":"v3-tiny","prompt":[5],"max_tokens":400,"ignore_eos":true,"stream":true})"));
  ASSERT_NE(c.read_until("data: ").find("data: "), std::string::npos);
  const int port = s.port();
  auto code = std::async(std::launch::async, [&s] { return s.terminate(60); });
  const std::string rest = c.read_until("", 60);
  EXPECT_NE(rest.find("data: [DONE]"), std::string::npos) << "the stream was finished, not cut";
  EXPECT_EQ(code.get(), 0);
  EXPECT_EQ(raw_http(port, request("GET", "/health", ""), 2), "");  // no longer listening
}

}  // namespace
}  // namespace dsv3
