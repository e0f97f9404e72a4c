#include "tokenizer/pretokenizer.h"

#include <cctype>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace dsv3 {

using json = nlohmann::json;

namespace {
// The ByteLevel pre-tokenizer's own split, as the reference writes it (GPT-2's pattern).
constexpr const char* kGpt2Pattern = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

bool flag(const json& j, const char* key, bool fallback) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) fail("\"", key, "\" must be true or false");
  return it->get<bool>();
}

std::string json_type(const json& j, const std::string& what) {
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string()) fail(what, ": a pre-tokenizer without a \"type\"");
  return j["type"].get<std::string>();
}

}  // namespace

void PreTokenizer::add_split(const std::string& pattern, Behavior behavior, bool invert, const std::string& what) {
  if (sealed_) fail(what, ": a Split after the ByteLevel pre-tokenizer is not supported");
  steps_.push_back(Step{Regex(pattern, what), behavior, invert});
}

void PreTokenizer::add_byte_level(bool add_prefix_space, bool use_regex) {
  if (sealed_) fail("pre_tokenizer: more than one ByteLevel step is not supported");
  if (use_regex) gpt2_split_ = std::make_unique<Regex>(kGpt2Pattern, "ByteLevel pre-tokenizer");
  add_prefix_space_ = add_prefix_space;
  sealed_ = true;
}

void PreTokenizer::add_from_json(const json& p, const std::string& what) {
  if (p.is_null()) return;
  const std::string t = json_type(p, what);
  if (t == "Sequence") {
    const auto it = p.find("pretokenizers");
    if (it == p.end() || !it->is_array()) fail(what, ": Sequence has no \"pretokenizers\" array");
    for (const json& sub : *it) add_from_json(sub, what);
  } else if (t == "Split") {
    const json& pat = p.value("pattern", json());
    std::string regex;
    if (pat.is_object() && pat.contains("Regex") && pat["Regex"].is_string()) {
      regex = pat["Regex"].get<std::string>();
    } else if (pat.is_object() && pat.contains("String") && pat["String"].is_string()) {
      for (const char c : pat["String"].get<std::string>()) {  // a literal: escape everything
        if (!std::isalnum(uint8_t(c)) && uint8_t(c) < 0x80) regex += '\\';
        regex += c;
      }
    } else {
      fail(what, ": Split pre-tokenizer has no Regex or String pattern");
    }
    const std::string behavior = p.value("behavior", std::string("Isolated"));
    PreTokenizer::Behavior b;
    if (behavior == "Isolated") b = PreTokenizer::Behavior::kIsolated;
    else if (behavior == "Removed") b = PreTokenizer::Behavior::kRemoved;
    else fail(what, ": Split behavior \"", behavior, "\" is not supported (Isolated, Removed)");
    add_split(regex, b, flag(p, "invert", false), what + ": Split pattern");
  } else if (t == "ByteLevel") {
    add_byte_level(flag(p, "add_prefix_space", false), flag(p, "use_regex", true));
  } else {
    fail(what, ": pre-tokenizer \"", t, "\" is not supported (Sequence, Split, ByteLevel)");
  }
}

}  // namespace dsv3
