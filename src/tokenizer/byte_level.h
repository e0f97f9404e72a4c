// The ByteLevel alphabet of GPT-2-style BPE: every byte is shown as one printable code point
// (printable Latin-1 bytes as themselves, the rest as U+0100 + n in byte order), so vocab and
// merge strings in tokenizer.json are text. Internally dsv3 works on the raw bytes.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dsv3::byte_level {

// The code point that shows byte b.
uint32_t byte_to_char(uint8_t b);

// Raw bytes of a vocab string written in the ByteLevel alphabet; nullopt if the string holds
// a character outside it (added tokens such as "<｜User｜>" are stored that way).
std::optional<std::string> decode(std::string_view shown);

// The ByteLevel form of raw bytes (what tokenizer.json stores).
std::string encode(std::string_view bytes);

}  // namespace dsv3::byte_level
