#include "tokenizer/byte_level.h"

#include "tokenizer/utf8.h"

namespace dsv3::byte_level {

namespace {

bool shown_as_itself(uint32_t b) { return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF); }

struct Tables {
  std::array<uint32_t, 256> to_char{};
  std::array<int16_t, 512> from_char{};  // every shown code point is below 0x144
  Tables() {
    from_char.fill(-1);
    uint32_t next = 0x100;
    for (uint32_t b = 0; b < 256; ++b) {
      to_char[b] = shown_as_itself(b) ? b : next++;
      from_char[to_char[b]] = int16_t(b);
    }
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

}  // namespace

uint32_t byte_to_char(uint8_t b) { return tables().to_char[b]; }

std::optional<std::string> decode(std::string_view shown) {
  const Tables& t = tables();
  std::string out;
  out.reserve(shown.size());
  const auto* p = reinterpret_cast<const uint8_t*>(shown.data());
  for (size_t i = 0; i < shown.size();) {
    uint32_t cp;
    if (p[i] < 0x80) {
      cp = p[i];
      i += 1;
    } else if ((p[i] & 0xE0) == 0xC0 && i + 1 < shown.size() && (p[i + 1] & 0xC0) == 0x80) {
      cp = (uint32_t(p[i] & 0x1F) << 6) | (p[i + 1] & 0x3F);
      i += 2;
    } else {
      return std::nullopt;  // three- and four-byte characters are never in the alphabet
    }
    if (cp >= t.from_char.size() || t.from_char[cp] < 0) return std::nullopt;
    out += char(t.from_char[cp]);
  }
  return out;
}

std::string encode(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char c : bytes) utf8::append(out, byte_to_char(uint8_t(c)));
  return out;
}

}  // namespace dsv3::byte_level
