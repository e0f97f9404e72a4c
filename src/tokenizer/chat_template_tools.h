// DeepSeek-V3's function-calling format, the part its chat template leaves out. The template
// renders assistant tool calls and tool outputs in the history, but not the tool definitions,
// so these are written into the system prompt in DeepSeek's function-calling layout:
//
//   ## Tools
//
//   ### Function
//
//   You have the following functions available:
//
//   - `get_weather`:
//   ```json
//   {"name": "get_weather", "description": ..., "parameters": {...}}
//   ```
//
// and the model answers with a span of calls, each `function<｜tool▁sep｜>NAME\n```json\nARGS\n```:
//
//   <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather
//   ```json
//   {"city": "Paris"}
//   ```<｜tool▁call▁end｜><｜tool▁calls▁end｜>
//
// (several calls are separated by "\n").
#pragma once
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace dsv3::deepseek_tools {

inline const std::string kCallsBegin = "<｜tool▁calls▁begin｜>";
inline const std::string kCallsEnd = "<｜tool▁calls▁end｜>";
inline const std::string kCallBegin = "<｜tool▁call▁begin｜>";
inline const std::string kCallEnd = "<｜tool▁call▁end｜>";
inline const std::string kSep = "<｜tool▁sep｜>";
inline const std::string kArgsOpen = "\n```json\n";  // between the name and the arguments
inline const std::string kArgsClose = "\n```";       // between the arguments and kCallEnd

// The system-prompt section describing `functions` (an array of OpenAI function objects:
// {"name", "description"?, "parameters"?}).
std::string tools_system_prompt(const nlohmann::json& functions);

// What the assistant turn is pre-filled with to force a tool call: the span's opening up to the
// function name; with a name, through the name and the opening of its arguments.
std::string forced_call_prefix(const std::string& name);

}  // namespace dsv3::deepseek_tools
