#include "io/json_file.h"
#include "server/request.h"

#include <cmath>
#include <limits>

#include "core/error.h"
#include "server/api_error.h"

namespace dsv3::server {

namespace {

[[noreturn]] void bad(const std::string& param, const std::string& why) {
  throw ApiError(400, cat("'", param, "': ", why), param);
}

// Present and not null.
bool given(const json& b, const char* k) { return b.contains(k) && !b[k].is_null(); }

double number(const json& b, const char* k, double fallback, double lo, double hi) {
  if (!given(b, k)) return fallback;
  if (!b[k].is_number()) bad(k, "expected a number");
  const double v = b[k].get<double>();
  if (!(v >= lo && v <= hi)) bad(k, cat("must be between ", lo, " and ", hi, ", got ", b[k].dump()));
  return v;
}

int64_t integer(const json& b, const char* k, int64_t fallback, int64_t lo, int64_t hi) {
  if (!given(b, k)) return fallback;
  const json& v = b[k];
  if (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>() && std::fabs(v.get<double>()) < 9e15)
    return integer(json{{k, int64_t(v.get<double>())}}, k, fallback, lo, hi);
  if (!v.is_number_integer()) bad(k, "expected an integer");
  if (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max()))
    bad(k, cat("must be at most ", hi));
  const int64_t x = v.get<int64_t>();
  if (x < lo || x > hi) bad(k, cat("must be between ", lo, " and ", hi, ", got ", x));
  return x;
}

bool boolean(const json& b, const char* k, bool fallback) {
  if (!given(b, k)) return fallback;
  if (!b[k].is_boolean()) bad(k, "expected true or false");
  return b[k].get<bool>();
}

std::vector<int32_t> token_ids(const json& a, const char* param, int64_t vocab) {
  std::vector<int32_t> out;
  for (const json& t : a) {
    if (!t.is_number_integer()) bad(param, "expected an array of token ids (integers)");
    const int64_t v = t.get<int64_t>();
    if (v < 0 || v >= vocab) bad(param, cat("token id ", v, " is outside the vocabulary [0, ", vocab, ")"));
    out.push_back(int32_t(v));
  }
  return out;
}

// prompt: "text", [ids], ["text"] or [[ids]] — one prompt per request.
void parse_prompt(const json& b, CompletionRequest& r, const Limits& lim) {
  if (!given(b, "prompt")) bad("prompt", "is required");
  json p = b["prompt"];
  if (p.is_array() && p.size() == 1 && (p[0].is_string() || p[0].is_array())) p = json(p[0]);
  if (p.is_string()) {
    r.prompt_text = p.get<std::string>();
    if (r.prompt_text.empty()) bad("prompt", "is empty");
  } else if (p.is_array()) {
    if (!p.empty() && (p[0].is_string() || p[0].is_array())) bad("prompt", "only one prompt per request is supported");
    r.prompt_tokens = token_ids(p, "prompt", lim.vocab_size);
    r.prompt_is_tokens = true;
    if (r.prompt_tokens.empty()) bad("prompt", "is empty");
  } else {
    bad("prompt", "expected a string or an array of token ids");
  }
}

std::string message_content(const json& c, size_t i) {
  const std::string param = cat("messages[", i, "].content");
  if (c.is_string()) return c.get<std::string>();
  if (!c.is_array()) bad(param, "expected a string or an array of text parts");
  std::string out;
  for (const json& part : c) {
    if (!part.is_object() || !part.contains("type") || part["type"] != "text" || !part.contains("text") ||
        !part["text"].is_string())
      bad(param, "only parts of the form {\"type\": \"text\", \"text\": \"...\"} are supported");
    out += part["text"].get<std::string>();
  }
  return out;
}

std::string string_field(const json& o, const char* k, const std::string& param) {
  if (!o.is_object() || !given(o, k) || !o[k].is_string()) bad(param + "." + k, "expected a string");
  return o[k].get<std::string>();
}

// An assistant turn's tool_calls, in the template's form (arguments kept as the JSON string).
json parse_tool_calls(const json& calls, const std::string& param) {
  if (!calls.is_array()) bad(param, "expected an array of tool calls");
  json out = json::array();
  for (size_t i = 0; i < calls.size(); ++i) {
    const std::string p = cat(param, "[", i, "]");
    if (!calls[i].is_object()) bad(p, "expected an object");
    if (given(calls[i], "type") && calls[i]["type"] != "function") bad(p + ".type", "only \"function\" is supported");
    if (!given(calls[i], "function") || !calls[i]["function"].is_object()) bad(p + ".function", "is required");
    const json& f = calls[i]["function"];
    const std::string name = string_field(f, "name", p + ".function");
    const std::string args = string_field(f, "arguments", p + ".function");
    out.push_back({{"type", "function"}, {"function", {{"name", name}, {"arguments", args}}}});
  }
  return out;
}

void parse_messages(const json& b, CompletionRequest& r) {
  if (!given(b, "messages")) bad("messages", "is required");
  const json& m = b["messages"];
  if (!m.is_array()) bad("messages", "expected an array of messages");
  if (m.empty()) bad("messages", "must contain at least one message");
  for (size_t i = 0; i < m.size(); ++i) {
    const std::string param = cat("messages[", i, "]");
    if (!m[i].is_object()) bad(param, "expected an object with a role and content");
    if (!m[i].contains("role") || !m[i]["role"].is_string()) bad(param + ".role", "expected a string");
    const std::string role = m[i]["role"].get<std::string>();
    if (role != "system" && role != "user" && role != "assistant" && role != "developer" && role != "tool")
      bad(param + ".role", cat("'", role, "' is not one of system, developer, user, assistant, tool"));
    const bool has_calls = role == "assistant" && given(m[i], "tool_calls") && !m[i]["tool_calls"].empty();
    if (has_calls) {
      // The template renders a turn's calls only when its content is null (any text is dropped).
      r.messages.push_back({{"role", "assistant"}, {"content", nullptr},
                            {"tool_calls", parse_tool_calls(m[i]["tool_calls"], param + ".tool_calls")}});
      continue;
    }
    if (!given(m[i], "content")) bad(param + ".content", "is required");
    if (given(m[i], "prefix") && boolean(m[i], "prefix", false)) {
      if (role != "assistant" || i + 1 != m.size()) bad(param + ".prefix", "only the last message, an assistant one, can be a prefix");
      r.assistant_prefix = message_content(m[i]["content"], i);
      continue;
    }
    json msg = {{"role", role == "developer" ? "system" : role}, {"content", message_content(m[i]["content"], i)}};
    if (role == "tool") string_field(m[i], "tool_call_id", param);  // required by the API; unused by the template
    r.messages.push_back(std::move(msg));
  }
}

// tools: [{"type": "function", "function": {"name", "description"?, "parameters"?}}].
void parse_tools(const json& b, CompletionRequest& r) {
  if (given(b, "tools")) {
    const json& t = b["tools"];
    if (!t.is_array()) bad("tools", "expected an array of tools");
    for (size_t i = 0; i < t.size(); ++i) {
      const std::string p = cat("tools[", i, "]");
      if (!t[i].is_object() || t[i].value("type", "") != "function") bad(p + ".type", "expected \"function\"");
      if (!given(t[i], "function") || !t[i]["function"].is_object()) bad(p + ".function", "is required");
      const json& f = t[i]["function"];
      const std::string name = string_field(f, "name", p + ".function");
      if (name.empty() || name.size() > 64 ||
          name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != std::string::npos)
        bad(p + ".function.name", "must be 1-64 letters, digits, underscores or dashes");
      for (const json& other : r.tools)
        if (other["name"] == name) bad(p + ".function.name", cat("'", name, "' names two functions"));
      json fn = {{"name", name}};
      if (given(f, "description")) fn["description"] = string_field(f, "description", p + ".function");
      if (given(f, "parameters")) {
        if (!f["parameters"].is_object()) bad(p + ".function.parameters", "expected a JSON Schema object");
        fn["parameters"] = f["parameters"];
      }
      r.tools.push_back(std::move(fn));
    }
  }
  if (!given(b, "tool_choice")) {
    r.tool_choice = r.tools.empty() ? ToolChoice::kNone : ToolChoice::kAuto;
    return;
  }
  const json& c = b["tool_choice"];
  if (c == "none") r.tool_choice = ToolChoice::kNone;
  else if (c == "auto") r.tool_choice = ToolChoice::kAuto;
  else if (c == "required") r.tool_choice = ToolChoice::kRequired;
  else if (c.is_object() && c.value("type", "") == "function" && given(c, "function")) {
    r.tool_choice = ToolChoice::kNamed;
    r.tool_name = string_field(c["function"], "name", "tool_choice.function");
    bool found = false;
    for (const json& f : r.tools) found = found || f["name"] == r.tool_name;
    if (!found) bad("tool_choice", cat("names the function '", r.tool_name, "', which is not in tools"));
  } else {
    bad("tool_choice", "expected \"none\", \"auto\", \"required\" or {\"type\": \"function\", \"function\": {\"name\": ...}}");
  }
  if (r.tool_choice != ToolChoice::kNone && r.tools.empty()) bad("tool_choice", "is only allowed when tools are given");
}

std::shared_ptr<const JsonGrammar> grammar_of(const json& schema, const std::string& param) {
  try {
    return std::make_shared<const JsonGrammar>(JsonGrammar::from_schema(schema));
  } catch (const Error& e) {
    bad(param, e.what());
  }
}

std::shared_ptr<const JsonGrammar> arguments_grammar(const CompletionRequest& r, size_t i) {
  return r.tools[i].contains("parameters")
             ? grammar_of(r.tools[i]["parameters"], cat("tools[", i, "].function.parameters"))
             : std::make_shared<const JsonGrammar>(JsonGrammar::any_object());
}

// The arguments of the one function a request forces are generated under its parameters schema;
// "required" with several functions, the call is one of them with its arguments.
void forced_tool_grammar(CompletionRequest& r) {
  if (r.tool_choice == ToolChoice::kRequired && r.tools.size() > 1) {
    for (size_t i = 0; i < r.tools.size(); ++i) r.tool_grammars.push_back(arguments_grammar(r, i));
    return;
  }
  std::string name = r.tool_name;
  if (r.tool_choice == ToolChoice::kRequired && r.tools.size() == 1) name = r.tools[0]["name"];
  for (size_t i = 0; i < r.tools.size() && !name.empty(); ++i)
    if (r.tools[i]["name"] == name) r.tool_grammar = arguments_grammar(r, i);
}

// response_format: {"type": "text" | "json_object" | "json_schema", "json_schema": {"schema", ...}}.
void parse_response_format(const json& b, CompletionRequest& r) {
  if (!given(b, "response_format")) return;
  const json& f = b["response_format"];
  if (!f.is_object() || !given(f, "type") || !f["type"].is_string())
    bad("response_format", "expected {\"type\": \"text\" | \"json_object\" | \"json_schema\"}");
  const std::string type = f["type"];
  if (type == "text") return;
  if (type == "json_object") {
    r.response_grammar = std::make_shared<const JsonGrammar>(JsonGrammar::any_object());
  } else if (type == "json_schema") {
    if (!given(f, "json_schema") || !f["json_schema"].is_object()) bad("response_format.json_schema", "is required");
    const json& js = f["json_schema"];
    if (!given(js, "schema")) bad("response_format.json_schema.schema", "is required");
    r.response_grammar = grammar_of(js["schema"], "response_format.json_schema.schema");
  } else {
    bad("response_format.type", cat("'", type, "' is not one of text, json_object, json_schema"));
  }
}

void parse_stop(const json& b, CompletionRequest& r) {
  if (!given(b, "stop")) return;
  const json& s = b["stop"];
  if (s.is_string()) {
    r.stop.push_back(s.get<std::string>());
  } else if (s.is_array()) {
    if (s.size() > 4) bad("stop", "at most 4 stop sequences");
    for (const json& x : s) {
      if (!x.is_string()) bad("stop", "expected a string or an array of strings");
      r.stop.push_back(x.get<std::string>());
    }
  } else {
    bad("stop", "expected a string or an array of strings");
  }
}

void parse_logit_bias(const json& b, SamplingParams& sp, const Limits& lim) {
  if (!given(b, "logit_bias")) return;
  const json& lb = b["logit_bias"];
  if (!lb.is_object()) bad("logit_bias", "expected an object mapping token ids to biases");
  for (const auto& [key, v] : lb.items()) {
    char* end = nullptr;
    const long long id = std::strtoll(key.c_str(), &end, 10);
    if (key.empty() || *end || id < 0 || id >= lim.vocab_size)
      bad("logit_bias", cat("'", key, "' is not a token id in [0, ", lim.vocab_size, ")"));
    if (!v.is_number() || !(v.get<double>() >= -100 && v.get<double>() <= 100))
      bad("logit_bias", cat("the bias of token ", key, " must be a number in [-100, 100]"));
    sp.logit_bias.emplace_back(int32_t(id), v.get<float>());
  }
}

void parse_sampling(const json& b, CompletionRequest& r, const Limits& lim) {
  SamplingParams& sp = r.sampling;
  sp.temperature = float(number(b, "temperature", 1.0, 0.0, 2.0));
  sp.top_p = float(number(b, "top_p", 1.0, 0.0, 1.0));
  if (sp.top_p <= 0.0f) bad("top_p", "must be > 0");
  const int64_t top_k = integer(b, "top_k", 0, -1, std::numeric_limits<int32_t>::max());
  sp.top_k = top_k < 0 ? 0 : top_k;  // -1: off, as in vLLM
  sp.min_p = float(number(b, "min_p", 0.0, 0.0, 1.0));
  sp.repetition_penalty = float(number(b, "repetition_penalty", 1.0, 0.0, 10.0));
  if (sp.repetition_penalty <= 0.0f) bad("repetition_penalty", "must be > 0");
  sp.frequency_penalty = float(number(b, "frequency_penalty", 0.0, -2.0, 2.0));
  sp.presence_penalty = float(number(b, "presence_penalty", 0.0, -2.0, 2.0));
  parse_logit_bias(b, sp, lim);
  r.has_seed = given(b, "seed");
  sp.seed = uint64_t(integer(b, "seed", 0, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()));
}

void parse_logprobs(const json& b, CompletionRequest& r) {
  if (r.chat) {
    const bool on = boolean(b, "logprobs", false);
    const int64_t top = integer(b, "top_logprobs", 0, 0, 20);
    if (given(b, "top_logprobs") && !on) bad("top_logprobs", "needs logprobs: true");
    r.logprobs = on ? top : -1;
  } else {
    r.logprobs = integer(b, "logprobs", -1, 0, 20);
  }
}

}  // namespace

CompletionRequest parse_completion_request(const json& b, bool chat, const Limits& lim) {
  if (!b.is_object()) throw ApiError(400, "the request body must be a JSON object");
  CompletionRequest r;
  r.chat = chat;
  if (!given(b, "model")) bad("model", "is required");
  if (!b["model"].is_string()) bad("model", "expected a string");
  r.model = b["model"].get<std::string>();
  if (chat) {
    parse_messages(b, r);
    parse_tools(b, r);
    forced_tool_grammar(r);
    if (!r.assistant_prefix.empty() && (r.tool_choice == ToolChoice::kNamed || r.tool_choice == ToolChoice::kRequired))
      bad("tool_choice", "a forced tool call cannot follow an assistant prefix");
    r.separate_reasoning = boolean(b, "separate_reasoning", true);
    if (given(b, "parallel_tool_calls")) boolean(b, "parallel_tool_calls", true);  // accepted; calls are never limited
  } else {
    parse_prompt(b, r, lim);
  }
  const int64_t big = std::numeric_limits<int64_t>::max();
  r.max_tokens = integer(b, "max_tokens", -1, chat ? 1 : 0, big);  // 0: echo only (echo.h)
  if (chat) r.max_tokens = integer(b, "max_completion_tokens", r.max_tokens, 1, big);
  parse_sampling(b, r, lim);
  r.n = integer(b, "n", 1, 1, lim.max_n);
  r.stream = boolean(b, "stream", false);
  if (given(b, "stream_options")) {
    const json& so = b["stream_options"];
    if (!so.is_object()) bad("stream_options", "expected an object");
    if (!r.stream) bad("stream_options", "is only allowed with stream: true");
    r.include_usage = boolean(so, "include_usage", false);
  }
  parse_stop(b, r);
  parse_logprobs(b, r);
  parse_response_format(b, r);
  r.ignore_eos = boolean(b, "ignore_eos", false);
  if (!chat) r.echo = boolean(b, "echo", false);
  if (r.echo && r.stream) bad("echo", "is not supported with stream: true");
  if (r.max_tokens == 0 && !r.echo) bad("max_tokens", "must be >= 1 (0 only with echo: true)");
  if (given(b, "best_of") && integer(b, "best_of", 1, 1, lim.max_n) != r.n) bad("best_of", "must equal n");
  if (given(b, "suffix") && !(b["suffix"].is_string() && b["suffix"].get<std::string>().empty()))
    bad("suffix", "is not supported");
  return r;
}

void check_context(CompletionRequest& r, int64_t prompt_len, const Limits& lim) {
  const int64_t room = lim.context_length - prompt_len;
  if (room < (r.max_tokens == 0 ? 0 : 1))  // max_tokens 0 (echo): the prompt may fill the context
    throw ApiError(400,
                   cat("This model's maximum context length is ", lim.context_length, " tokens, and the prompt has ",
                       prompt_len, " tokens"),
                   r.chat ? "messages" : "prompt", "context_length_exceeded");
  if (r.max_tokens < 0) r.max_tokens = std::min(room, r.chat ? lim.default_chat_max_tokens : lim.default_max_tokens);
  if (r.max_tokens > room)
    throw ApiError(400,
                   cat("This model's maximum context length is ", lim.context_length, " tokens. However, you requested ",
                       prompt_len + r.max_tokens, " tokens (", prompt_len, " in the prompt, ", r.max_tokens,
                       " for the completion)"),
                   "max_tokens", "context_length_exceeded");
}

}  // namespace dsv3::server
