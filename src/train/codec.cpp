#include "io/json_file.h"
#include "train/codec.h"

namespace dsv3 {

TextCodec byte_codec() {
  TextCodec c;
  c.encode_batch = [](const std::vector<std::string>& texts) {
    std::vector<std::vector<int32_t>> out(texts.size());
    for (size_t i = 0; i < texts.size(); ++i)
      for (unsigned char ch : texts[i]) out[i].push_back(ch);
    return out;
  };
  // A DeepSeek-like template in plain text: "\x02" (begin), system, (User, Assistant reply "\x04")*.
  c.render_chat = [](const json& messages, bool add_generation_prompt) {
    std::string s = "\x02";
    for (const json& m : messages) {
      const std::string role = m.value("role", ""), content = m.value("content", "");
      if (role == "system") s += content;
      else if (role == "user") s += "\nUser: " + content;
      else if (role == "assistant") s += "\nAssistant: " + content + "\x04";
    }
    if (add_generation_prompt) s += "\nAssistant: ";
    return s;
  };
  c.eos = 256;
  c.fim_begin = 257;
  c.fim_hole = 258;
  c.fim_end = 259;
  return c;
}

}  // namespace dsv3
