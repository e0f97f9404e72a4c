// Random test inputs for the differential tests: text mixing scripts, odd whitespace, digits,
// emoji and added-token markers; slices of real files; random conversations.
#pragma once
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace dsv3::test {

// Random valid UTF-8 of up to `max_pieces` pieces drawn from many kinds of text.
std::string random_text(std::mt19937& rng, int max_pieces);

// Pieces of `text` cut at random character boundaries, `count` of them, up to max_bytes each.
std::vector<std::string> random_slices(const std::string& text, std::mt19937& rng, int count, size_t max_bytes);

// A random conversation: system/user/assistant/tool messages, assistant tool calls.
nlohmann::json random_conversation(std::mt19937& rng);

}  // namespace dsv3::test
