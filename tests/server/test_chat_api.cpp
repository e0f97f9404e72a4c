// Chat features of dsv3 serve over loopback HTTP on the default model (its tokenizer has
// DeepSeek-V3's special tokens and chat template): a forced tool call and its round trip, a
// call required among several tools, the same call streamed as argument deltas, response_format JSON validated against its schema,
// refused schema features, and the reasoning split on a reply pre-filled with <think>.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "server_process.h"
#include "test_util.h"

#include "io/json_file.h"

namespace dsv3 {
namespace {

using test::call;
using test::Reply;
using test::sse_events;

class ChatApi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new test::ServerProcess("--model " + test::data_path("../../models/default") + " --name default --prefix-cache-mb 16");
  }
  static void TearDownTestSuite() { delete server_; }
  static Reply chat(const json& body) { return call(server_->port(), "POST", "/v1/chat/completions", body.dump()); }
  static test::ServerProcess* server_;
};
test::ServerProcess* ChatApi::server_ = nullptr;

const json kWeatherTool = json::parse(R"({"type": "function", "function": {"name": "get_weather",
    "description": "The weather in a city now",
    "parameters": {"type": "object", "properties": {"city": {"enum": ["Paris", "Tokyo"]},
      "unit": {"enum": ["celsius", "fahrenheit"]}, "days": {"type": "integer", "description": "ahead"}},
      "required": ["city", "unit"]}}})");

json weather_request(const json& tool_choice) {
  return {{"model", "default"}, {"temperature", 0}, {"max_tokens", 64},
          {"messages", json::array({{{"role", "user"}, {"content", "What is the weather in Paris?"}}})},
          {"tools", json::array({kWeatherTool})}, {"tool_choice", tool_choice}};
}

void expect_weather_arguments(const std::string& arguments) {
  const json a = json::parse(arguments, nullptr, false);
  ASSERT_TRUE(a.is_object()) << arguments;
  EXPECT_TRUE(a["city"] == "Paris" || a["city"] == "Tokyo") << arguments;
  EXPECT_TRUE(a["unit"] == "celsius" || a["unit"] == "fahrenheit") << arguments;
  if (a.contains("days")) {
    EXPECT_TRUE(a["days"].is_number_integer()) << arguments;
  }
}

TEST_F(ChatApi, ForcedToolCallAndItsRoundTrip) {
  const json named = {{"type", "function"}, {"function", {{"name", "get_weather"}}}};
  const Reply r = chat(weather_request(named));
  ASSERT_EQ(r.status, 200) << r.raw;
  const json& c = r.j["choices"][0];
  EXPECT_EQ(c["finish_reason"], "tool_calls");
  EXPECT_TRUE(c["message"]["content"].is_null());
  ASSERT_EQ(c["message"]["tool_calls"].size(), 1u) << r.body;
  const json& call0 = c["message"]["tool_calls"][0];
  EXPECT_EQ(call0["type"], "function");
  EXPECT_EQ(call0["id"].get<std::string>().rfind("call_", 0), 0u);
  EXPECT_EQ(call0["function"]["name"], "get_weather");
  expect_weather_arguments(call0["function"]["arguments"]);

  // "required" with a single tool forces the same call.
  const Reply req = chat(weather_request("required"));
  ASSERT_EQ(req.status, 200) << req.raw;
  EXPECT_EQ(req.j["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"], call0["function"]["arguments"]);

  // The call and its result go back into the conversation.
  json next = weather_request("auto");
  next["max_tokens"] = 8;
  next["messages"].push_back({{"role", "assistant"}, {"content", nullptr}, {"tool_calls", json::array({call0})}});
  next["messages"].push_back({{"role", "tool"}, {"tool_call_id", call0["id"]}, {"content", "{\"temperature\": 18}"}});
  const Reply r2 = chat(next);
  ASSERT_EQ(r2.status, 200) << r2.raw;
  EXPECT_EQ(r2.j["choices"][0]["message"]["role"], "assistant");
  EXPECT_GT(r2.j["usage"]["prompt_tokens"].get<int>(), r.j["usage"]["prompt_tokens"].get<int>());
}

// tool_choice "required" with several tools: every call, greedy or sampled, names one of them
// and its arguments follow that tool's schema (all enums here, so every call finishes).
TEST_F(ChatApi, RequiredWithSeveralToolsCallsOneOfThem) {
  const json tools = json::parse(R"([
    {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object",
      "properties": {"city": {"enum": ["Paris", "Tokyo"]}, "unit": {"enum": ["celsius", "fahrenheit"]}},
      "required": ["city", "unit"]}}},
    {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object",
      "properties": {"zone": {"enum": ["UTC", "CET"]}}, "required": ["zone"]}}},
    {"type": "function", "function": {"name": "search", "parameters": {"type": "object",
      "properties": {"query": {"enum": ["news", "maps", "recipes"]}}, "required": ["query"]}}}])");
  const auto schema_of = [&](const std::string& name) -> const json* {
    for (const json& t : tools)
      if (t["function"]["name"] == name) return &t["function"]["parameters"];
    return nullptr;
  };
  std::set<std::string> names;
  for (const double temperature : {0.0, 1.0}) {
    json body = weather_request("required");
    body["tools"] = tools;
    body["temperature"] = temperature;
    body["n"] = temperature == 0 ? 1 : 8;
    body["seed"] = 3;
    const Reply r = chat(body);
    ASSERT_EQ(r.status, 200) << r.raw;
    for (const json& c : r.j["choices"]) {
      ASSERT_EQ(c["finish_reason"], "tool_calls") << c.dump();
      ASSERT_EQ(c["message"]["tool_calls"].size(), 1u) << c.dump();
      const json& f = c["message"]["tool_calls"][0]["function"];
      const json* schema = schema_of(f["name"].get<std::string>());
      ASSERT_NE(schema, nullptr) << c.dump();
      names.insert(f["name"].get<std::string>());
      const json a = json::parse(f["arguments"].get<std::string>(), nullptr, false);
      ASSERT_TRUE(a.is_object()) << c.dump();
      for (const auto& [k, v] : a.items()) {
        ASSERT_TRUE((*schema)["properties"].contains(k)) << c.dump();
        const json& allowed = (*schema)["properties"][k]["enum"];
        EXPECT_NE(std::find(allowed.begin(), allowed.end(), v), allowed.end()) << c.dump();
      }
      for (const json& k : (*schema)["required"]) EXPECT_TRUE(a.contains(k.get<std::string>())) << c.dump();
    }
  }
  EXPECT_GT(names.size(), 1u);  // sampling reaches more than one tool
  // Two tools of one name are refused.
  json dup = weather_request("required");
  dup["tools"] = json::array({tools[0], tools[0]});
  const Reply bad = chat(dup);
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.j["error"]["param"], "tools[1].function.name") << bad.body;
}

TEST_F(ChatApi, StreamedToolCallArrivesAsArgumentDeltas) {
  json body = weather_request({{"type", "function"}, {"function", {{"name", "get_weather"}}}});
  const Reply whole = chat(body);
  body["stream"] = true;
  const Reply r = chat(body);
  ASSERT_EQ(r.status, 200) << r.raw;
  std::string arguments, finish, id;
  int deltas = 0;
  for (const auto& e : sse_events(r.body)) {
    if (e == "[DONE]") break;
    const json c = json::parse(e)["choices"][0];
    if (!c["finish_reason"].is_null()) finish = c["finish_reason"];
    if (!c["delta"].contains("tool_calls")) continue;
    const json& d = c["delta"]["tool_calls"][0];
    EXPECT_EQ(d["index"], 0);
    if (d.contains("id")) {
      EXPECT_TRUE(id.empty());  // announced once, with its name
      id = d["id"];
      EXPECT_EQ(d["type"], "function");
      EXPECT_EQ(d["function"]["name"], "get_weather");
    }
    arguments += d["function"]["arguments"].get<std::string>();
    ++deltas;
  }
  EXPECT_FALSE(id.empty());
  EXPECT_GT(deltas, 2);
  EXPECT_EQ(finish, "tool_calls");
  EXPECT_EQ(arguments, whole.j["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]);
}

TEST_F(ChatApi, ResponseFormatJsonSchemaValidates) {
  const json schema = json::parse(R"({"type": "object", "properties": {
      "word": {"enum": ["tree", "river", "stone"]}, "count": {"type": "integer"}, "ok": {"type": "boolean"},
      "tags": {"type": "array", "items": {"enum": ["a", "b"]}, "maxItems": 3}}, "required": ["word", "count", "tags"]})");
  json body = {{"model", "default"}, {"n", 3}, {"seed", 5}, {"max_tokens", 96},
               {"messages", json::array({{{"role", "user"}, {"content", "Describe a tree as JSON."}}})},
               {"response_format", {{"type", "json_schema"}, {"json_schema", {{"name", "thing"}, {"schema", schema}}}}}};
  const Reply r = chat(body);
  ASSERT_EQ(r.status, 200) << r.raw;
  int complete = 0;
  for (const auto& c : r.j["choices"]) {
    if (c["finish_reason"] != "stop") continue;
    ++complete;
    const json v = json::parse(c["message"]["content"].get<std::string>(), nullptr, false);
    ASSERT_TRUE(v.is_object()) << c.dump();
    EXPECT_TRUE(v["word"] == "tree" || v["word"] == "river" || v["word"] == "stone") << v;
    EXPECT_TRUE(v["count"].is_number_integer()) << v;
    ASSERT_TRUE(v["tags"].is_array()) << v;
    EXPECT_LE(v["tags"].size(), 3u);
  }
  EXPECT_GT(complete, 0);
  body["response_format"] = {{"type", "json_object"}};
  body["n"] = 2;
  const Reply o = chat(body);
  ASSERT_EQ(o.status, 200) << o.raw;
  for (const auto& c : o.j["choices"])
    if (c["finish_reason"] == "stop") {
      EXPECT_TRUE(json::parse(c["message"]["content"].get<std::string>()).is_object());
    }
}

TEST_F(ChatApi, UnsupportedSchemaFeaturesAre400sNamingThem) {
  const json schema = json::parse(R"({"type": "object", "properties": {"a": {"type": "string", "format": "email"}}})");
  const Reply r = chat({{"model", "default"},
                        {"messages", json::array({{{"role", "user"}, {"content", "hi"}}})},
                        {"response_format", {{"type", "json_schema"}, {"json_schema", {{"schema", schema}}}}}});
  EXPECT_EQ(r.status, 400) << r.raw;
  EXPECT_EQ(r.j["error"]["param"], "response_format.json_schema.schema");
  EXPECT_NE(r.j["error"]["message"].get<std::string>().find("format (at #/properties/a)"), std::string::npos) << r.body;
}

TEST_F(ChatApi, ReasoningAfterAPrefilledThinkIsReasoningContent) {
  json body = {{"model", "default"}, {"temperature", 0}, {"max_tokens", 12},
               {"messages", json::array({{{"role", "user"}, {"content", "Why is the sky blue?"}},
                                         {{"role", "assistant"}, {"content", "<think>\n"}, {"prefix", true}}})}};
  const Reply split = chat(body);
  ASSERT_EQ(split.status, 200) << split.raw;
  const json& m = split.j["choices"][0]["message"];
  ASSERT_TRUE(m.contains("reasoning_content")) << split.body;
  body["separate_reasoning"] = false;
  const Reply plain = chat(body);
  ASSERT_EQ(plain.status, 200) << plain.raw;
  EXPECT_FALSE(plain.j["choices"][0]["message"].contains("reasoning_content"));
  // The same greedy tokens: what was reasoning is content without the split (the model writes
  // no </think> in 12 tokens, so everything it wrote is reasoning).
  const std::string text = plain.j["choices"][0]["message"]["content"];
  EXPECT_FALSE(text.empty());
  EXPECT_EQ(m["reasoning_content"].get<std::string>() + m["content"].get<std::string>(),
            text.substr(text.find_first_not_of('\n')));
  body["separate_reasoning"] = true;
  body["stream"] = true;
  std::string streamed;
  for (const auto& e : sse_events(chat(body).body)) {
    if (e == "[DONE]") break;
    const json d = json::parse(e)["choices"][0]["delta"];
    if (d.contains("reasoning_content")) streamed += d["reasoning_content"].get<std::string>();
  }
  EXPECT_EQ(streamed, m["reasoning_content"]);
}

double metric(int port, const std::string& name) {
  const std::string m = call(port, "GET", "/metrics").body;
  const size_t at = m.find("\n" + name + " ");
  return at == std::string::npos ? -1.0 : std::stod(m.substr(at + name.size() + 2));
}

TEST_F(ChatApi, RepeatedSystemPromptReusesThePrefixCache) {
  std::string system;
  for (int i = 0; i < 20; ++i) system += "You answer questions about words, briefly and plainly. ";
  json body = {{"model", "default"}, {"temperature", 0}, {"max_tokens", 8},
               {"messages", json::array({{{"role", "system"}, {"content", system}}, {{"role", "user"}, {"content", "tree"}}})}};
  const Reply first = chat(body);
  const double reused0 = metric(server_->port(), "dsv3_prefix_cache_reused_tokens_total");
  const Reply again = chat(body);
  body["messages"][1]["content"] = "river";
  const Reply other = chat(body);
  ASSERT_EQ(other.status, 200) << other.raw;
  EXPECT_EQ(again.j["choices"][0]["message"], first.j["choices"][0]["message"]);
  const double reused = metric(server_->port(), "dsv3_prefix_cache_reused_tokens_total") - reused0;
  EXPECT_GT(reused, 2 * 0.8 * first.j["usage"]["prompt_tokens"].get<double>()) << reused;
  EXPECT_GT(metric(server_->port(), "dsv3_prefix_cache_hits_total"), 1);
  EXPECT_GT(metric(server_->port(), "dsv3_prefix_cache_bytes"), 0);
}

}  // namespace
}  // namespace dsv3
