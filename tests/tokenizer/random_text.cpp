#include "random_text.h"

#include "io/json_file.h"
#include "tokenizer/utf8.h"

namespace dsv3::test {

namespace {

std::string pick(std::mt19937& rng, const std::vector<std::string>& pool) { return pool[rng() % pool.size()]; }

std::string code_points(std::mt19937& rng, uint32_t lo, uint32_t hi, int max_len) {
  std::string s;
  const int n = 1 + int(rng() % uint32_t(max_len));
  for (int i = 0; i < n; ++i) utf8::append(s, lo + rng() % (hi - lo + 1));
  return s;
}

const std::vector<std::string> kWords = {"the", "The", "HELLO", "world", "don't", "it's", "we've", "I'm", "naïve",
                                         "café", "x", "a", "tokenizer", "data_set", "camelCase", "über", "año"};
const std::vector<std::string> kSpaces = {" ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", "\r", " \n", "\n ", "\xC2\xA0",
                                          "\xE3\x80\x80", "\xEF\xBB\xBF", "\xC2\x85", "\xE2\x80\xA8", "\xE2\x80\x8B",
                                          "\xE2\x80\x83", "\x0B", "\x0C", " \t \n"};
const std::vector<std::string> kPunct = {".", ",", "!", "?", "...", "'", "\"", "(", ")", "[", "]", "{", "}", "<", ">",
                                         "-", "—", "–", "_", "/", "\\", "#", "@", "$", "%", "^", "&", "*", "+", "=",
                                         "~", "`", "|", ";", ":", "，", "。", "！", "？", "「", "」", "《", "》", "…",
                                         "€", "©", "°", "±", "→", "∑", "√"};
const std::vector<std::string> kEmoji = {"😀", "🤗", "🚀", "👍🏽", "👨‍👩‍👧", "🇫🇷", "❤️", "1️⃣", "✨", "🎉"};
const std::vector<std::string> kMarkers = {"<｜User｜>", "<｜Assistant｜>", "<｜begin▁of▁sentence｜>",
                                           "<｜end▁of▁sentence｜>", "<｜tool▁sep｜>", "<|EOT|>", "<｜fim▁hole｜>",
                                           "<｜User", "｜>", "<｜", "<think>", "</think>", "<｜place▁holder▁no▁7｜>"};

std::string random_piece(std::mt19937& rng) {
  switch (rng() % 20) {
    case 0: case 1: case 2: return pick(rng, kWords);
    case 3: case 4: return pick(rng, kSpaces);
    case 5: case 6: return pick(rng, kPunct);
    case 7: return std::to_string(rng() % 100000);
    case 8: return code_points(rng, 0x4E00, 0x9FA5, 6);    // CJK
    case 9: return code_points(rng, 0x3041, 0x30FF, 5);    // kana
    case 10: return code_points(rng, 0xAC00, 0xD7A3, 4);   // Hangul
    case 11: return code_points(rng, 0x0410, 0x044F, 8);   // Cyrillic
    case 12: return code_points(rng, 0x0621, 0x064A, 6);   // Arabic
    case 13: return code_points(rng, 0x0905, 0x0939, 4) + code_points(rng, 0x093E, 0x094C, 1);  // Devanagari + sign
    case 14: return code_points(rng, 0x0300, 0x036F, 2);   // combining marks
    case 15: return pick(rng, kEmoji);
    case 16: return pick(rng, kMarkers);
    case 17: return code_points(rng, 0x0660, 0x0669, 5) + code_points(rng, 0xFF10, 0xFF19, 3);  // other digits
    case 18: return code_points(rng, 0x21, 0x7E, 12);      // ASCII soup
    default: return code_points(rng, 0xA0, 0x24F, 4);      // Latin-1 and Latin Extended
  }
}

}  // namespace

std::string random_text(std::mt19937& rng, int max_pieces) {
  std::string s;
  const int n = 1 + int(rng() % uint32_t(max_pieces));
  for (int i = 0; i < n; ++i) s += random_piece(rng);
  return s;
}

std::vector<std::string> random_slices(const std::string& text, std::mt19937& rng, int count, size_t max_bytes) {
  std::vector<std::string> out;
  auto boundary = [&](size_t i) {
    while (i < text.size() && (uint8_t(text[i]) & 0xC0) == 0x80) ++i;
    return i;
  };
  for (int k = 0; k < count && !text.empty(); ++k) {
    const size_t begin = boundary(rng() % text.size());
    const size_t end = boundary(std::min(text.size(), begin + 1 + rng() % max_bytes));
    if (end > begin) out.push_back(text.substr(begin, end - begin));
  }
  return out;
}

nlohmann::json random_conversation(std::mt19937& rng) {
  using json = nlohmann::json;
  json msgs = json::array();
  const int n = int(rng() % 9);
  for (int i = 0; i < n; ++i) {
    const uint32_t r = rng() % 10;
    if (r < 2) {
      msgs.push_back({{"role", "system"}, {"content", random_text(rng, 6)}});
    } else if (r < 5) {
      msgs.push_back({{"role", "user"}, {"content", random_text(rng, 8)}});
    } else if (r < 7) {
      msgs.push_back({{"role", "assistant"}, {"content", random_text(rng, 8)}});
    } else if (r < 8) {
      json calls = json::array();
      const int k = 1 + int(rng() % 3);
      for (int c = 0; c < k; ++c) {
        const json args = {{"q", random_text(rng, 3)}, {"n", int(rng() % 10)}};
        calls.push_back({{"type", "function"}, {"function", {{"name", "tool_" + std::to_string(rng() % 5)}, {"arguments", args.dump()}}}});
      }
      msgs.push_back({{"role", "assistant"}, {"content", nullptr}, {"tool_calls", calls}});
    } else {
      msgs.push_back({{"role", "tool"}, {"content", random_text(rng, 5)}});
    }
  }
  return msgs;
}

}  // namespace dsv3::test
