#include "tokenizer/chat_template.h"

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace dsv3 {

namespace {

using json = nlohmann::json;

const char* const kDeepSeekV3Jinja =
    "{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}{% set ns = nam"
    "espace(is_first=false, is_tool=false, is_output_first=true, system_prompt='', is_first_sp=true) %}{%- for mess"
    "age in messages %}{%- if message['role'] == 'system' %}{%- if ns.is_first_sp %}{% set ns.system_prompt = ns.sy"
    "stem_prompt + message['content'] %}{% set ns.is_first_sp = false %}{%- else %}{% set ns.system_prompt = ns.sys"
    "tem_prompt + '\n\n' + message['content'] %}{%- endif %}{%- endif %}{%- endfor %}{{bos_token}}{{ns.system_prompt}"
    "}{%- for message in messages %}{%- if message['role'] == 'user' %}{%- set ns.is_tool = false -%}{{'<｜User｜>' +"
    " message['content']}}{%- endif %}{%- if message['role'] == 'assistant' and message['content'] is none %}{%- se"
    "t ns.is_tool = false -%}{%- for tool in message['tool_calls']%}{%- if not ns.is_first %}{{'<｜Assistant｜><｜tool"
    "▁calls▁begin｜><｜tool▁call▁begin｜>' + tool['type'] + '<｜tool▁sep｜>' + tool['function']['name'] + '\n' + '```json"
    "' + '\n' + tool['function']['arguments'] + '\n' + '```' + '<｜tool▁call▁end｜>'}}{%- set ns.is_first = true -%}{%-"
    " else %}{{'\n' + '<｜tool▁call▁begin｜>' + tool['type'] + '<｜tool▁sep｜>' + tool['function']['name'] + '\n' + '```j"
    "son' + '\n' + tool['function']['arguments'] + '\n' + '```' + '<｜tool▁call▁end｜>'}}{{'<｜tool▁calls▁end｜><｜end▁of▁"
    "sentence｜>'}}{%- endif %}{%- endfor %}{%- endif %}{%- if message['role'] == 'assistant' and message['content']"
    " is not none %}{%- if ns.is_tool %}{{'<｜tool▁outputs▁end｜>' + message['content'] + '<｜end▁of▁sentence｜>'}}{%- "
    "set ns.is_tool = false -%}{%- else %}{{'<｜Assistant｜>' + message['content'] + '<｜end▁of▁sentence｜>'}}{%- endif"
    " %}{%- endif %}{%- if message['role'] == 'tool' %}{%- set ns.is_tool = true -%}{%- if ns.is_output_first %}{{'"
    "<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>' + message['content'] + '<｜tool▁output▁end｜>'}}{%- set ns.is_outpu"
    "t_first = false %}{%- else %}{{'\n<｜tool▁output▁begin｜>' + message['content'] + '<｜tool▁output▁end｜>'}}{%- endi"
    "f %}{%- endif %}{%- endfor -%}{% if ns.is_tool %}{{'<｜tool▁outputs▁end｜>'}}{% endif %}{% if add_generation_pro"
    "mpt and not ns.is_tool %}{{'<｜Assistant｜>'}}{% endif %}";

// The template's state (its `ns` namespace).
struct State {
  bool is_first = false, is_tool = false, is_output_first = true;
};

// The role, or "" when absent or not a string (the template then skips the message).
std::string role_of(const json& m) {
  const auto it = m.find("role");
  return it != m.end() && it->is_string() ? it->get<std::string>() : "";
}

std::string content_of(const json& m, size_t i) {
  const auto it = m.find("content");
  if (it == m.end() || !it->is_string())
    fail("chat message ", i, " (", role_of(m), "): \"content\" must be a string");
  return it->get<std::string>();
}

std::string tool_call_text(const json& call, size_t i) {
  const auto str = [&](const json& j, const char* key) -> std::string {
    if (!j.is_object() || !j.contains(key) || !j[key].is_string())
      fail("chat message ", i, ": a tool call needs a string \"", key, "\"");
    return j[key].get<std::string>();
  };
  if (!call.is_object() || !call.contains("function")) fail("chat message ", i, ": a tool call needs \"function\"");
  const json& f = call["function"];
  const json args = f.is_object() && f.contains("arguments") ? f["arguments"] : json();
  std::string arguments;
  if (args.is_string()) arguments = args.get<std::string>();
  else if (args.is_object() || args.is_array()) arguments = args.dump();
  else fail("chat message ", i, ": tool call arguments must be a JSON string or object");
  return str(call, "type") + "<｜tool▁sep｜>" + str(f, "name") + "\n```json\n" + arguments + "\n```<｜tool▁call▁end｜>";
}

void render_tool_calls(const json& m, size_t i, State& ns, std::string& out) {
  const auto it = m.find("tool_calls");
  if (it == m.end() || !it->is_array()) fail("chat message ", i, " (assistant): null content needs a \"tool_calls\" array");
  // As the template does: the first call of the whole conversation opens the block; every later
  // call, in this message or another, is appended with the closing tokens after it.
  for (const json& call : *it) {
    if (!ns.is_first) {
      out += "<｜Assistant｜><｜tool▁calls▁begin｜><｜tool▁call▁begin｜>" + tool_call_text(call, i);
      ns.is_first = true;
    } else {
      out += "\n<｜tool▁call▁begin｜>" + tool_call_text(call, i) + "<｜tool▁calls▁end｜><｜end▁of▁sentence｜>";
    }
  }
}

void render_message(const json& m, size_t i, State& ns, std::string& out) {
  const std::string role = role_of(m);
  if (role == "user") {
    ns.is_tool = false;
    out += "<｜User｜>" + content_of(m, i);
  } else if (role == "assistant") {
    const auto c = m.find("content");
    if (c != m.end() && c->is_null()) {
      ns.is_tool = false;
      render_tool_calls(m, i, ns, out);
    } else if (ns.is_tool) {
      out += "<｜tool▁outputs▁end｜>" + content_of(m, i) + "<｜end▁of▁sentence｜>";
      ns.is_tool = false;
    } else {
      out += "<｜Assistant｜>" + content_of(m, i) + "<｜end▁of▁sentence｜>";
    }
  } else if (role == "tool") {
    ns.is_tool = true;
    if (ns.is_output_first) {
      out += "<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>" + content_of(m, i) + "<｜tool▁output▁end｜>";
      ns.is_output_first = false;
    } else {
      out += "\n<｜tool▁output▁begin｜>" + content_of(m, i) + "<｜tool▁output▁end｜>";
    }
  }
}

}  // namespace

const std::string& ChatTemplate::deepseek_v3_jinja() {
  static const std::string t = kDeepSeekV3Jinja;
  return t;
}

ChatTemplate ChatTemplate::from_config(const TokenizerConfig& config) {
  if (config.chat_template.empty()) fail("tokenizer_config.json has no chat_template");
  if (config.chat_template != deepseek_v3_jinja())
    fail("the chat template of tokenizer_config.json is not DeepSeek-V3's; dsv3 renders only that template "
         "natively (docs/tokenizer.md)");
  return ChatTemplate(config.bos_token);
}

std::string ChatTemplate::render(const json& messages, bool add_generation_prompt) const {
  if (!messages.is_array()) fail("chat messages must be a JSON array");
  for (size_t i = 0; i < messages.size(); ++i)
    if (!messages[i].is_object()) fail("chat message ", i, " is not an object");
  std::string system;
  bool first_system = true;
  for (size_t i = 0; i < messages.size(); ++i) {
    if (role_of(messages[i]) != "system") continue;
    system += (first_system ? "" : "\n\n") + content_of(messages[i], i);
    first_system = false;
  }
  std::string out = bos_ + system;
  State ns;
  for (size_t i = 0; i < messages.size(); ++i) render_message(messages[i], i, ns, out);
  if (ns.is_tool) out += "<｜tool▁outputs▁end｜>";
  if (add_generation_prompt && !ns.is_tool) out += "<｜Assistant｜>";
  return out;
}

}  // namespace dsv3
