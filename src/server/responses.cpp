#include "io/json_file.h"
#include "server/responses.h"

namespace dsv3::server {

namespace {

// A cancelled choice is never shown.
const char* finish_name(FinishReason r, bool called_tools) {
  return r == FinishReason::kLength ? "length" : called_tools ? "tool_calls" : "stop";
}

json tool_call_json(const ToolCallDelta& d) {
  json f = json::object();
  if (!d.name.empty()) f["name"] = d.name;
  f["arguments"] = d.arguments;
  json c = {{"index", d.index}, {"function", f}};
  if (!d.id.empty()) {
    c["id"] = d.id;
    c["type"] = "function";
  }
  return c;
}

json chat_message(const ChoiceResult& c) {
  json m = {{"role", "assistant"}, {"content", c.text}};
  if (!c.reasoning.empty()) m["reasoning_content"] = c.reasoning;
  if (!c.tool_calls.empty()) {
    if (c.text.empty()) m["content"] = nullptr;
    json calls = json::array();
    for (const auto& d : c.tool_calls) {
      json j = tool_call_json(d);
      j.erase("index");
      calls.push_back(j);
    }
    m["tool_calls"] = calls;
  }
  return m;
}

json bytes_of(const std::string& s) {
  json b = json::array();
  for (unsigned char c : s) b.push_back(int(c));
  return b;
}

// Completions: {"tokens", "token_logprobs", "top_logprobs", "text_offset"}.
json completion_logprobs(const std::vector<LogprobEntry>& lps, size_t offset0) {
  json tokens = json::array(), lp = json::array(), top = json::array(), off = json::array();
  size_t offset = offset0;
  for (const auto& e : lps) {
    tokens.push_back(e.token);
    lp.push_back(e.logprob);
    json t = json::object();
    for (const auto& [tok, v] : e.top) t[tok] = v;
    top.push_back(t);
    off.push_back(offset);
    offset += e.token.size();
  }
  return {{"tokens", tokens}, {"token_logprobs", lp}, {"top_logprobs", top}, {"text_offset", off}};
}

// Chat: {"content": [{"token", "logprob", "bytes", "top_logprobs": [...]}]}.
json chat_logprobs(const std::vector<LogprobEntry>& lps) {
  json content = json::array();
  for (const auto& e : lps) {
    json top = json::array();
    for (const auto& [tok, v] : e.top) top.push_back({{"token", tok}, {"logprob", v}, {"bytes", bytes_of(tok)}});
    content.push_back({{"token", e.token}, {"logprob", e.logprob}, {"bytes", bytes_of(e.token)}, {"top_logprobs", top}});
  }
  return {{"content", content}};
}

json logprobs_json(bool chat, const std::vector<LogprobEntry>& lps) {
  return chat ? chat_logprobs(lps) : completion_logprobs(lps, 0);
}

}  // namespace

void accumulate(ChoiceResult& c, ChoiceEvent& ev) {
  c.text += ev.text;
  c.reasoning += ev.reasoning;
  for (auto& d : ev.tool_calls) {
    if (!d.name.empty()) c.tool_calls.push_back(std::move(d));
    else if (!c.tool_calls.empty()) c.tool_calls.back().arguments += d.arguments;
  }
  c.tokens.insert(c.tokens.end(), ev.tokens.begin(), ev.tokens.end());
  for (auto& l : ev.logprobs) c.logprobs.push_back(std::move(l));
  if (ev.finish != FinishReason::kNone) {
    c.finish = ev.finish;
    c.called_tools = ev.called_tools;
  }
}

json usage_json(int64_t prompt_tokens, int64_t completion_tokens) {
  return {{"prompt_tokens", prompt_tokens},
          {"completion_tokens", completion_tokens},
          {"total_tokens", prompt_tokens + completion_tokens}};
}

json full_response(const ResponseMeta& m, const std::vector<ChoiceResult>& choices, bool want_logprobs,
                   int64_t prompt_tokens, int64_t completion_tokens) {
  json cs = json::array();
  for (size_t i = 0; i < choices.size(); ++i) {
    const ChoiceResult& c = choices[i];
    json j = {{"index", i}, {"finish_reason", finish_name(c.finish, c.called_tools)}, {"token_ids", c.tokens}};
    j["logprobs"] = want_logprobs ? logprobs_json(m.chat, c.logprobs) : json(nullptr);
    if (m.chat) j["message"] = chat_message(c);
    else j["text"] = c.text;
    cs.push_back(j);
  }
  return {{"id", m.id},
          {"object", m.chat ? "chat.completion" : "text_completion"},
          {"created", m.created},
          {"model", m.model},
          {"choices", cs},
          {"usage", usage_json(prompt_tokens, completion_tokens)}};
}

json chunk_json(const ResponseMeta& m, const ChoiceEvent& ev, bool want_logprobs, bool first) {
  json c = {{"index", ev.index}, {"token_ids", ev.tokens}};
  c["finish_reason"] = ev.finish == FinishReason::kNone ? json(nullptr) : json(finish_name(ev.finish, ev.called_tools));
  c["logprobs"] = want_logprobs && !ev.logprobs.empty() ? logprobs_json(m.chat, ev.logprobs) : json(nullptr);
  if (m.chat) {
    json delta = json::object();
    if (first) delta["role"] = "assistant";
    if (!ev.text.empty() || first) delta["content"] = ev.text;
    if (!ev.reasoning.empty()) delta["reasoning_content"] = ev.reasoning;
    if (!ev.tool_calls.empty()) {
      // One entry per call and chunk, as OpenAI sends them: pieces of one call are merged.
      json calls = json::array();
      for (const auto& d : ev.tool_calls) {
        if (!calls.empty() && calls.back()["index"] == d.index && d.name.empty())
          calls.back()["function"]["arguments"] = calls.back()["function"]["arguments"].get<std::string>() + d.arguments;
        else
          calls.push_back(tool_call_json(d));
      }
      delta["tool_calls"] = calls;
    }
    c["delta"] = delta;
  } else {
    c["text"] = ev.text;
  }
  return {{"id", m.id},
          {"object", m.chat ? "chat.completion.chunk" : "text_completion"},
          {"created", m.created},
          {"model", m.model},
          {"choices", json::array({c})}};
}

json usage_chunk(const ResponseMeta& m, int64_t prompt_tokens, int64_t completion_tokens) {
  return {{"id", m.id},
          {"object", m.chat ? "chat.completion.chunk" : "text_completion"},
          {"created", m.created},
          {"model", m.model},
          {"choices", json::array()},
          {"usage", usage_json(prompt_tokens, completion_tokens)}};
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string sse(const json& j) { return "data: " + dump(j) + "\n\n"; }

}  // namespace dsv3::server
