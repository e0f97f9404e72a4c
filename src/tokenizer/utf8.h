// UTF-8 helpers shared by the encoder (which rejects invalid input) and the decoder (which,
// like the reference's TextDecoder, replaces invalid bytes with U+FFFD).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace dsv3::utf8 {

// Byte offset of the first byte that is not part of well-formed UTF-8 (no overlongs, no
// surrogates, nothing above U+10FFFF), or std::string::npos when all of `s` is valid.
size_t find_invalid(std::string_view s);

// Appends the UTF-8 encoding of code point cp (cp must be a scalar value).
void append(std::string& out, uint32_t cp);

// Lossy conversion with the replacement rules of the WHATWG Encoding Standard (the
// JavaScript TextDecoder the reference uses): each maximal invalid subpart becomes one U+FFFD.
std::string to_valid_lossy(std::string_view bytes);

// The same conversion, fed in pieces. A sequence cut at the end of a piece is held back until
// the next piece completes it, so splitting the input anywhere gives the same text.
class StreamingDecoder {
 public:
  // Appends the text that `bytes` completes to `out`.
  void push(std::string_view bytes, std::string& out);
  // Ends the stream: a held-back incomplete sequence becomes U+FFFD.
  void finish(std::string& out);
  bool holding() const { return needed_ != 0; }

 private:
  void reset_sequence();
  uint32_t code_point_ = 0;
  int needed_ = 0, seen_ = 0;
  uint8_t lower_ = 0x80, upper_ = 0xBF;
  std::string held_;  // bytes of the sequence in progress
};

}  // namespace dsv3::utf8
