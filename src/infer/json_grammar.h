// The JSON values a JSON Schema allows, compiled into a graph of nodes that a byte-level
// pushdown matcher (json_matcher.h) walks. Supported: type (one or several), object with
// properties / required / additionalProperties, array with items / minItems / maxItems,
// string, number, integer, boolean, null, enum, const, anyOf / oneOf whose alternatives start
// with different bytes, $ref to #/$defs/… or #/definitions/… (recursion included).
// Annotations (title, description, default, examples, $schema, $id, $comment) are ignored;
// any other keyword is an Error that names it and where it is.
//
// Output is compact JSON: no whitespace between tokens, and an object's properties in the
// order of their names (the parsed schema keeps no other order; the required ones always, the
// others optionally); an object with listed properties gets no others.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace dsv3 {

struct GrammarNode {
  enum class Kind : uint8_t { kObject, kArray, kString, kNumber, kInteger, kLiterals, kUnion };
  Kind kind = Kind::kLiterals;
  // kObject: listed properties (names as JSON string bodies, escapes written out), or free keys.
  std::vector<std::string> keys;
  std::vector<int32_t> values;  // node of each key
  std::vector<bool> required;
  bool free_keys = false;       // no listed properties: any key (a `free_key` string), values of `free_value`
  int32_t free_key = -1, free_value = -1;
  // kArray
  int32_t items = -1;
  int64_t min_items = 0, max_items = -1;  // -1: no limit
  // kLiterals: the allowed values written as compact JSON (enum, const, true, false, null).
  std::vector<std::string> literals;
  // kUnion: the alternative to follow, by the value's first byte (-1: none).
  std::array<int32_t, 256> by_first_byte{};
};

struct JsonGrammar {
  std::vector<GrammarNode> nodes;
  int32_t root = 0;

  // Throws Error("unsupported JSON Schema features: …") or on a malformed schema.
  static JsonGrammar from_schema(const nlohmann::json& schema);
  // Any JSON object (response_format json_object).
  static JsonGrammar any_object();
};

}  // namespace dsv3
