#include "tokenizer/utf8.h"

namespace dsv3::utf8 {

namespace {
constexpr uint32_t kReplacement = 0xFFFD;
}

void append(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3F));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
}

size_t find_invalid(std::string_view s) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    // Runs of ASCII dominate real text; skip them eight bytes at a time.
    while (i + 8 <= n) {
      uint64_t w;
      __builtin_memcpy(&w, p + i, 8);
      if (w & 0x8080808080808080ull) break;
      i += 8;
    }
    if (i >= n) break;
    const uint8_t b = p[i];
    if (b < 0x80) {
      ++i;
      continue;
    }
    int len;
    uint8_t lo = 0x80, hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) {
      len = 2;
    } else if (b >= 0xE0 && b <= 0xEF) {
      len = 3;
      if (b == 0xE0) lo = 0xA0;  // overlong
      if (b == 0xED) hi = 0x9F;  // surrogates
    } else if (b >= 0xF0 && b <= 0xF4) {
      len = 4;
      if (b == 0xF0) lo = 0x90;  // overlong
      if (b == 0xF4) hi = 0x8F;  // above U+10FFFF
    } else {
      return i;
    }
    if (i + size_t(len) > n) return i;
    if (p[i + 1] < lo || p[i + 1] > hi) return i;
    for (int k = 2; k < len; ++k)
      if ((p[i + size_t(k)] & 0xC0) != 0x80) return i;
    i += size_t(len);
  }
  return std::string::npos;
}

void StreamingDecoder::reset_sequence() {
  code_point_ = 0;
  needed_ = seen_ = 0;
  lower_ = 0x80;
  upper_ = 0xBF;
  held_.clear();
}

// The UTF-8 decoder of the WHATWG Encoding Standard, section 9.1.1, step by step.
void StreamingDecoder::push(std::string_view bytes, std::string& out) {
  for (size_t i = 0; i < bytes.size(); ++i) {
    const uint8_t b = uint8_t(bytes[i]);
    if (needed_ == 0) {
      if (b < 0x80) {
        out += char(b);
      } else if (b >= 0xC2 && b <= 0xDF) {
        needed_ = 1;
        code_point_ = b & 0x1F;
        held_ += char(b);
      } else if (b >= 0xE0 && b <= 0xEF) {
        if (b == 0xE0) lower_ = 0xA0;
        if (b == 0xED) upper_ = 0x9F;
        needed_ = 2;
        code_point_ = b & 0xF;
        held_ += char(b);
      } else if (b >= 0xF0 && b <= 0xF4) {
        if (b == 0xF0) lower_ = 0x90;
        if (b == 0xF4) upper_ = 0x8F;
        needed_ = 3;
        code_point_ = b & 0x7;
        held_ += char(b);
      } else {
        append(out, kReplacement);
      }
      continue;
    }
    if (b < lower_ || b > upper_) {
      // The sequence so far is a maximal invalid subpart; this byte starts afresh.
      reset_sequence();
      append(out, kReplacement);
      --i;
      continue;
    }
    lower_ = 0x80;
    upper_ = 0xBF;
    code_point_ = (code_point_ << 6) | (b & 0x3F);
    held_ += char(b);
    if (++seen_ == needed_) {
      out += held_;
      reset_sequence();
    }
  }
}

void StreamingDecoder::finish(std::string& out) {
  if (needed_ != 0) append(out, kReplacement);
  reset_sequence();
}

std::string to_valid_lossy(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  StreamingDecoder d;
  d.push(bytes, out);
  d.finish(out);
  return out;
}

}  // namespace dsv3::utf8
