// Reading chat output back: DeepSeek-V3 tool-call spans into OpenAI tool calls (streamed and
// whole, on the real DeepSeek-V3 tokenizer's tokens), malformed spans returned as text,
// <think>…</think> split into reasoning and content, and the prompt a tool request renders to
// through the real DeepSeek-V3 chat template.
#include <gtest/gtest.h>

#include "io/json_file.h"
#include "server/api_error.h"
#include "server/chat_prompt.h"
#include "server/reasoning_parser.h"
#include "server/text_codec.h"
#include "server/tool_call_parser.h"
#include "test_util.h"
#include "tokenizer/chat_template_tools.h"

namespace dsv3::server {
namespace {

namespace dt = deepseek_tools;

const TextCodec& codec() {
  static const auto c = make_text_codec(test::data_path("tokenizer/deepseek-v3"));
  return *c;
}

struct Parsed {
  std::string content;
  std::vector<ToolCallDelta> calls;  // merged: one entry per call
  size_t pieces = 0;                 // deltas received
  bool called = false;
};

void merge(Parsed& p, ToolParse t) {
  p.content += t.content;
  for (auto& d : t.calls) {
    ++p.pieces;
    if (!d.name.empty()) p.calls.push_back(d);
    else p.calls.back().arguments += d.arguments;
  }
}

// The text as the model would generate it: encoded with the DeepSeek-V3 tokenizer, then decoded
// token by token the way the server does, through the parser.
Parsed parse_tokens(const std::string& text, bool stream, const std::string& prefill = "") {
  const std::vector<int32_t> ids = codec().encode_rendered(text);
  auto dec = codec().stream(/*tool_markup=*/true);
  ToolCallParser parser(stream, prefill);
  Parsed p;
  for (int32_t id : ids) merge(p, parser.push(dec->push(id)));
  merge(p, parser.push(dec->flush()));
  merge(p, parser.finish());
  p.called = parser.called();
  return p;
}

std::string call_text(const std::string& name, const std::string& args) {
  return "function" + dt::kSep + name + dt::kArgsOpen + args + dt::kArgsClose + dt::kCallEnd;
}

std::string span(const std::vector<std::string>& calls, bool closed = true) {
  std::string s = dt::kCallsBegin;
  for (size_t i = 0; i < calls.size(); ++i) s += (i ? "\n" : "") + dt::kCallBegin + calls[i];
  return closed ? s + dt::kCallsEnd : s;
}

TEST(ToolCalls, MarkupIsOneAddedTokenEachInTheRealTokenizer) {
  for (const std::string& t : {dt::kCallsBegin, dt::kCallsEnd, dt::kCallBegin, dt::kCallEnd, dt::kSep}) {
    const auto ids = codec().encode_rendered(t);
    ASSERT_EQ(ids.size(), 1u) << t;
    auto dec = codec().stream(true);
    EXPECT_EQ(dec->push(ids[0]) + dec->flush(), t);
  }
}

TEST(ToolCalls, OneCallStreamedAndWhole) {
  const std::string args = R"({"city": "Paris", "unit": "celsius"})";
  const std::string text = "Let me check." + span({call_text("get_weather", args)});
  for (bool stream : {true, false}) {
    const Parsed p = parse_tokens(text, stream);
    EXPECT_EQ(p.content, "Let me check.");
    ASSERT_EQ(p.calls.size(), 1u);
    EXPECT_EQ(p.calls[0].index, 0);
    EXPECT_EQ(p.calls[0].name, "get_weather");
    EXPECT_EQ(p.calls[0].id.rfind("call_", 0), 0u);
    EXPECT_EQ(p.calls[0].arguments, args);
    EXPECT_TRUE(p.called);
    // Streamed: the arguments arrive in several deltas; whole: one call.
    if (stream) EXPECT_GT(p.pieces, 3u);
    else EXPECT_EQ(p.pieces, 1u);
  }
}

TEST(ToolCalls, SeveralCallsAndALoneCallWithoutTheClosingToken) {
  const std::string text = span({call_text("a", "{\"x\": 1}"), call_text("b_2", "{}"), call_text("c", "[1, \"2\"]")});
  for (bool stream : {true, false}) {
    const Parsed p = parse_tokens(text, stream);
    EXPECT_EQ(p.content, "");
    ASSERT_EQ(p.calls.size(), 3u);
    EXPECT_EQ(p.calls[1].index, 1);
    EXPECT_EQ(p.calls[1].name, "b_2");
    EXPECT_EQ(p.calls[2].arguments, "[1, \"2\"]");
    EXPECT_NE(p.calls[0].id, p.calls[1].id);
    // As the V3 template writes a lone call: no <｜tool▁calls▁end｜> before the output ends.
    const Parsed lone = parse_tokens(span({call_text("a", "{}")}, false), stream);
    ASSERT_EQ(lone.calls.size(), 1u);
    EXPECT_EQ(lone.content, "");
  }
}

TEST(ToolCalls, SameResultAtEverySplitOfTheText) {
  const std::string text = "ok " + span({call_text("f", "{\"s\": \"é\\n```\"}"), call_text("g", "{}")}) + " tail";
  for (bool stream : {true, false}) {
    for (size_t cut = 0; cut <= text.size(); ++cut) {
      ToolCallParser parser(stream, "");
      Parsed p;
      merge(p, parser.push(text.substr(0, cut)));
      merge(p, parser.push(text.substr(cut)));
      merge(p, parser.finish());
      ASSERT_EQ(p.content, "ok  tail") << cut;
      ASSERT_EQ(p.calls.size(), 2u) << cut;
      EXPECT_EQ(p.calls[0].arguments, "{\"s\": \"é\\n```\"}") << cut;
    }
  }
}

TEST(ToolCalls, MalformedSpansComeBackAsText) {
  const std::vector<std::string> bad = {
      span({"function" + dt::kSep + "f{}"}),                          // no newline after the name
      span({"function" + dt::kSep + "bad name" + dt::kArgsOpen + "{}" + dt::kArgsClose + dt::kCallEnd}),
      span({"code" + dt::kSep + "f" + dt::kArgsOpen + "{}" + dt::kArgsClose + dt::kCallEnd}),  // not a function
      dt::kCallsBegin + "hello",                                        // no call
      dt::kCallsBegin,                                                  // cut off at once
      span({call_text("f", "{\"a\": 1")}),                              // arguments are not JSON
      span({}, false) + dt::kCallBegin + "function" + dt::kSep + "f" + dt::kArgsOpen + "{\"a\"",  // cut off mid-call
  };
  for (const auto& b : bad) {
    const Parsed whole = parse_tokens("x" + b, false);
    EXPECT_EQ(whole.content, "x" + b);
    EXPECT_TRUE(whole.calls.empty());
    EXPECT_FALSE(whole.called);
    // Streamed, a span broken before any call header is whole text too.
    const Parsed streamed = parse_tokens("x" + b, true);
    if (streamed.calls.empty()) {
      EXPECT_EQ(streamed.content, "x" + b);
      EXPECT_FALSE(streamed.called);
    } else {  // announced calls stay; the rest comes back as text
      EXPECT_TRUE(streamed.called);
    }
  }
}

TEST(ToolCalls, ForcedPrefixIsParsedAsPartOfTheSpan) {
  const std::string args = R"({"q": 1})";
  for (bool stream : {true, false}) {
    // Named: the prompt ends inside the arguments.
    Parsed p = parse_tokens(args + dt::kArgsClose + dt::kCallEnd + dt::kCallsEnd, stream, dt::forced_call_prefix("search"));
    ASSERT_EQ(p.calls.size(), 1u);
    EXPECT_EQ(p.calls[0].name, "search");
    EXPECT_EQ(p.calls[0].arguments, args);
    // Required: the model writes the name.
    p = parse_tokens("lookup" + dt::kArgsOpen + args + dt::kArgsClose + dt::kCallEnd, stream, dt::forced_call_prefix(""));
    ASSERT_EQ(p.calls.size(), 1u);
    EXPECT_EQ(p.calls[0].name, "lookup");
  }
}

ReasoningSplit split(const std::string& text, bool prefilled, size_t cut) {
  ReasoningParser r(prefilled);
  ReasoningSplit out = r.push(text.substr(0, cut));
  for (const auto& s : {r.push(text.substr(cut)), r.finish()}) {
    out.reasoning += s.reasoning;
    out.content += s.content;
  }
  return out;
}

TEST(Reasoning, SplitsThinkFromTheAnswerAtEveryCut) {
  struct Case {
    std::string text;
    bool prefilled;
    std::string reasoning, content;
  };
  const std::vector<Case> cases = {
      {"<think>\nFirst, 2+2.\n</think>\n\nIt is 4.", false, "First, 2+2.\n", "It is 4."},
      {"First, 2+2.\n</think>\n\nIt is 4.", true, "First, 2+2.\n", "It is 4."},  // template pre-filled <think>\n
      {"It is 4.", false, "", "It is 4."},                                       // no reasoning at all
      {"<thin", false, "", "<thin"},                                              // not the tag after all
      {"<think>\nstill thinking", false, "still thinking", ""},                  // cut off by max_tokens
      {"a <think>b</think>", false, "", "a <think>b</think>"},                  // only a leading tag opens it
  };
  for (const auto& c : cases)
    for (size_t cut = 0; cut <= c.text.size(); ++cut) {
      const ReasoningSplit s = split(c.text, c.prefilled, cut);
      EXPECT_EQ(s.reasoning, c.reasoning) << c.text << " cut " << cut;
      EXPECT_EQ(s.content, c.content) << c.text << " cut " << cut;
    }
  EXPECT_TRUE(ReasoningParser::prompt_opens_reasoning("<｜Assistant｜><think>\n"));
  EXPECT_FALSE(ReasoningParser::prompt_opens_reasoning("<｜Assistant｜>"));
}

CompletionRequest chat_request(const std::string& body) {
  Limits lim;
  lim.context_length = 4096;
  lim.vocab_size = 129280;
  return parse_completion_request(json::parse(body), true, lim);
}

const char* kTools = R"("tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather now",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}])";

TEST(ToolPrompt, ToolsJoinTheSystemPromptAndToolChoiceForcesTheSpan) {
  const std::string msgs = R"("model": "m", "messages": [{"role": "system", "content": "Be brief."},
                                                         {"role": "user", "content": "Weather in Paris?"}])";
  CompletionRequest r = chat_request("{" + msgs + "," + kTools + "}");
  EXPECT_EQ(r.tool_choice, ToolChoice::kAuto);
  ChatPrompt p = chat_prompt(r);
  const std::string text = codec().render_chat(p.messages) + p.prefill;
  EXPECT_EQ(text,
            "<｜begin▁of▁sentence｜>Be brief.\n\n## Tools\n\n### Function\n\nYou have the following functions available:"
            "\n\n- `get_weather`:\n```json\n{\"description\":\"Weather now\",\"name\":\"get_weather\",\"parameters\":{"
            "\"properties\":{\"city\":{\"type\":\"string\"}},\"required\":[\"city\"],\"type\":\"object\"}}\n```\n"
            "<｜User｜>Weather in Paris?<｜Assistant｜>");
  EXPECT_TRUE(chat_output(r, p, text, true).tool_calls);

  r = chat_request("{" + msgs + "," + kTools + R"(, "tool_choice": {"type": "function", "function": {"name": "get_weather"}}})");
  p = chat_prompt(r);
  EXPECT_EQ(p.prefill, dt::kCallsBegin + dt::kCallBegin + "function" + dt::kSep + "get_weather\n```json\n");
  r = chat_request("{" + msgs + "," + kTools + R"(, "tool_choice": "none"})");
  p = chat_prompt(r);
  EXPECT_EQ(codec().render_chat(p.messages).find("## Tools"), std::string::npos);
  EXPECT_FALSE(chat_output(r, p, "", true).tool_calls);
}

TEST(ToolPrompt, HistoryWithCallsAndToolOutputsRendersInTheV3Format) {
  CompletionRequest r = chat_request(std::string(R"({"model": "m", "messages": [
      {"role": "user", "content": "Weather in Paris?"},
      {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
          "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
      {"role": "tool", "tool_call_id": "call_1", "content": "18C"}], )") + kTools + "}");
  const std::string text = codec().render_chat(chat_prompt(r).messages);
  const std::string tail = "<｜User｜>Weather in Paris?<｜Assistant｜>" + dt::kCallsBegin + dt::kCallBegin +
                           call_text("get_weather", "{\"city\": \"Paris\"}") +
                           "<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>18C<｜tool▁output▁end｜><｜tool▁outputs▁end｜>";
  ASSERT_GE(text.size(), tail.size());
  EXPECT_EQ(text.substr(text.size() - tail.size()), tail);
}

TEST(ToolPrompt, BadToolRequestsNameTheParameter) {
  const auto param_of = [](const std::string& body) {
    try {
      chat_request(body);
    } catch (const ApiError& e) {
      return e.body()["error"]["param"].get<std::string>();
    }
    return std::string("(accepted)");
  };
  const std::string user = R"("model": "m", "messages": [{"role": "user", "content": "hi"}])";
  EXPECT_EQ(param_of("{" + user + R"(, "tool_choice": "required"})"), "tool_choice");
  EXPECT_EQ(param_of("{" + user + "," + kTools + R"(, "tool_choice": {"type": "function", "function": {"name": "nope"}}})"),
            "tool_choice");
  EXPECT_EQ(param_of("{" + user + R"(, "tools": [{"type": "function", "function": {"name": "bad name"}}]})"),
            "tools[0].function.name");
  EXPECT_EQ(param_of(R"({"model": "m", "messages": [{"role": "tool", "content": "x"}]})"), "messages[0].tool_call_id");
  EXPECT_EQ(param_of(R"({"model": "m", "messages": [{"role": "assistant", "content": null, "tool_calls": [{"function": {"name": "f"}}]}]})"),
            "messages[0].tool_calls[0].function.arguments");
  EXPECT_EQ(param_of("{" + user + "," + kTools + R"(, "separate_reasoning": false})"), "(accepted)");
}

}  // namespace
}  // namespace dsv3::server
