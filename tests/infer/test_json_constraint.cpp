// Constrained decoding to JSON: the schema compiler (supported and refused features), the
// byte-level matcher, the token mask against a one-token-at-a-time check, and thousands of
// outputs sampled under the mask with random logits, each parsed and validated against its
// schema by an independent validator; calls constrained to one of several functions likewise.
// The vocabulary is the default model's tokenizer.
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "core/error.h"
#include "infer/token_constraint.h"
#include "infer/tool_call_constraint.h"
#include "io/json_file.h"
#include "test_util.h"
#include "tokenizer/tokenizer.h"

namespace dsv3 {
namespace {

const Tokenizer& tokenizer() {
  static const Tokenizer t = Tokenizer::load(test::data_path("../../models/default"));
  return t;
}

std::shared_ptr<const TokenTrie> trie() {
  static const auto t = [] {
    std::vector<std::string> bytes(size_t(tokenizer().vocab_size()));
    for (int32_t id = 0; id < tokenizer().vocab_size(); ++id) bytes[size_t(id)] = tokenizer().token_bytes(id);
    return std::make_shared<const TokenTrie>(bytes);
  }();
  return t;
}

// An independent check of a value against the schema subset (not the matcher's logic).
bool valid(const json& v, const json& s, const json& root) {
  if (s.is_boolean()) return s.get<bool>();
  if (s.contains("$ref")) return valid(v, root[json::json_pointer(s["$ref"].get<std::string>().substr(1))], root);
  if (s.contains("const")) return v == s["const"];
  if (s.contains("enum")) return std::find(s["enum"].begin(), s["enum"].end(), v) != s["enum"].end();
  if (s.contains("anyOf"))
    return std::any_of(s["anyOf"].begin(), s["anyOf"].end(), [&](const json& a) { return valid(v, a, root); });
  if (s.contains("type")) {
    const json types = s["type"].is_array() ? s["type"] : json::array({s["type"]});
    bool ok = false;
    for (const auto& t : types) {
      const std::string n = t;
      ok = ok || (n == "string" && v.is_string()) || (n == "number" && v.is_number()) ||
           (n == "integer" && v.is_number_integer()) || (n == "boolean" && v.is_boolean()) ||
           (n == "null" && v.is_null()) || (n == "object" && v.is_object()) || (n == "array" && v.is_array());
    }
    if (!ok) return false;
  }
  if (v.is_object()) {
    const json props = s.value("properties", json::object());
    for (const auto& r : s.value("required", json::array()))
      if (!v.contains(r.get<std::string>())) return false;
    for (const auto& [k, x] : v.items()) {
      if (props.contains(k)) {
        if (!valid(x, props[k], root)) return false;
      } else if (!props.empty() || !valid(x, s.value("additionalProperties", json(true)), root)) {
        return false;
      }
    }
  }
  if (v.is_array()) {
    if (v.size() < s.value("minItems", size_t(0)) || v.size() > s.value("maxItems", size_t(1) << 30)) return false;
    for (const auto& x : v)
      if (!valid(x, s.value("items", json(true)), root)) return false;
  }
  return true;
}

const json kSchemas = json::parse(R"([
  {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"},
     "score": {"type": "number"}, "ok": {"type": "boolean"}, "none": {"type": "null"}},
   "required": ["name", "age"]},
  {"type": "object", "properties": {"color": {"enum": ["red", "green", "blue", 7, null]},
     "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 3},
     "note": {"anyOf": [{"type": "string"}, {"type": "null"}]}, "v": {"const": "x\"y"}},
   "required": ["color", "tags", "v"], "additionalProperties": false},
  {"$defs": {"node": {"type": "object", "properties": {"value": {"type": "integer"},
     "children": {"type": "array", "items": {"$ref": "#/$defs/node"}, "maxItems": 2}}, "required": ["value"]}},
   "$ref": "#/$defs/node"},
  {"type": "array", "items": {"type": ["number", "string", "boolean"]}},
  {"type": "object"},
  {"type": "object", "additionalProperties": {"type": "integer"}}
])");

#ifdef DSV3_SANITIZE
constexpr int kSamplesPerSchema = 100;  // the same checks in a sanitizer build's time budget
#else
constexpr int kSamplesPerSchema = 400;
#endif

// Samples one output under the mask with random logits; biased towards closing once it is long.
template <class Constraint>
std::string sample(Constraint& c, std::mt19937& rng, int32_t eos, bool& finished) {
  std::string out;
  std::vector<uint8_t> allowed;
  for (int step = 0; step < 400; ++step) {
    c.allowed(allowed);
    std::vector<int32_t> ids, closing;
    for (size_t i = 0; i < allowed.size(); ++i)
      if (allowed[i]) {
        ids.push_back(int32_t(i));
        const std::string& b = i == size_t(eos) ? std::string("}") : trie()->bytes(int32_t(i));
        if (b.size() == 1 && std::string("\"]}").find(b[0]) != std::string::npos) closing.push_back(int32_t(i));
      }
    if (ids.empty()) break;
    const bool close = step > 12 && !closing.empty() && rng() % 4 != 0;
    const auto& from = close ? closing : ids;
    const int32_t t = from[rng() % from.size()];
    if (t == eos) {
      finished = true;
      return out;
    }
    out += trie()->bytes(t);
    c.advance(t);
  }
  finished = false;
  return out;
}

TEST(JsonConstraint, ThousandsOfSampledOutputsParseAndValidate) {
  std::mt19937 rng(7);
  const int32_t eos = tokenizer().eos_id();
  int total = 0, finished_total = 0;
  for (const json& schema : kSchemas) {
    const auto g = std::make_shared<const JsonGrammar>(JsonGrammar::from_schema(schema));
    std::set<std::string> distinct;
    for (int i = 0; i < kSamplesPerSchema; ++i) {
      JsonConstraint c(g, trie(), {eos});
      bool finished = false;
      const std::string out = sample(c, rng, eos, finished);
      ++total;
      if (!finished) continue;  // cut off at the length limit
      ++finished_total;
      const json v = json::parse(out, nullptr, false);
      ASSERT_FALSE(v.is_discarded()) << out;
      ASSERT_TRUE(valid(v, schema, schema)) << schema.dump() << "\n" << out;
      distinct.insert(out);
    }
    EXPECT_GT(distinct.size(), size_t(kSamplesPerSchema / 8)) << schema.dump();  // the mask leaves real choice
  }
  EXPECT_GT(finished_total, total * 9 / 10);
}

TEST(JsonConstraint, MaskEqualsCheckingEveryTokenAlone) {
  std::mt19937 rng(3);
  const int32_t eos = tokenizer().eos_id();
  for (const json& schema : kSchemas) {
    const auto g = std::make_shared<const JsonGrammar>(JsonGrammar::from_schema(schema));
    JsonConstraint c(g, trie(), {eos});
    JsonMatcher m(*g);
    std::vector<uint8_t> allowed;
    for (int step = 0; step < 30; ++step) {
      c.allowed(allowed);
      std::vector<int32_t> ids;
      for (int32_t id = 0; id < trie()->vocab_size(); ++id) {
        JsonMatcher x = m;
        const bool expect = (!trie()->bytes(id).empty() && x.feed(trie()->bytes(id))) || (id == eos && m.accepting());
        ASSERT_EQ(bool(allowed[size_t(id)]), expect) << "token " << id << " at step " << step;
        if (expect && id != eos) ids.push_back(id);
      }
      if (ids.empty()) break;
      const int32_t t = ids[rng() % ids.size()];
      c.advance(t);
      ASSERT_TRUE(m.feed(trie()->bytes(t)));
    }
  }
}

// tool_choice "required" with several functions: every sampled call names one of them, in full,
// and its arguments validate against that function's schema; each function gets chosen.
TEST(ToolCallConstraint, SampledCallsNameOneFunctionAndValidate) {
  std::mt19937 rng(21);
  const int32_t eos = tokenizer().eos_id();
  const std::vector<std::string> names = {"get_weather", "get_time", "search"};
  std::vector<ToolCallChoice> choices;
  for (size_t i = 0; i < names.size(); ++i)
    choices.push_back({names[i] + "\n```json\n", std::make_shared<const JsonGrammar>(JsonGrammar::from_schema(kSchemas[i]))});
  std::map<std::string, int> chosen;
  int finished_total = 0;
  for (int i = 0; i < 300; ++i) {
    ToolCallConstraint c(choices, trie(), {eos});
    bool finished = false;
    const std::string out = sample(c, rng, eos, finished);
    const size_t open = out.find("\n```json\n");
    ASSERT_NE(open, std::string::npos) << out;
    const std::string name = out.substr(0, open);
    const auto it = std::find(names.begin(), names.end(), name);
    ASSERT_NE(it, names.end()) << out;
    ++chosen[name];
    if (!finished) continue;
    ++finished_total;
    const json& schema = kSchemas[size_t(it - names.begin())];
    const json v = json::parse(out.substr(open + 9), nullptr, false);
    ASSERT_FALSE(v.is_discarded()) << out;
    ASSERT_TRUE(valid(v, schema, schema)) << name << "\n" << out;
  }
  EXPECT_EQ(chosen.size(), names.size());
  EXPECT_GT(finished_total, 250);
}

TEST(ToolCallConstraint, NameMaskAllowsExactlyTheTokensThatContinueAName) {
  const auto g = std::make_shared<const JsonGrammar>(JsonGrammar::any_object());
  ToolCallConstraint c({{"get_weather\n```json\n", g}, {"get_time\n```json\n", g}}, trie(), {});
  std::vector<uint8_t> allowed;
  c.allowed(allowed);
  const auto continues = [](const std::string& done, const std::string& b) {
    for (const std::string h : {"get_weather\n```json\n", "get_time\n```json\n"})
      if (h.compare(0, done.size(), done) == 0 && h.size() >= done.size() + b.size() && h.compare(done.size(), b.size(), b) == 0)
        return true;
    return false;
  };
  for (int32_t id = 0; id < trie()->vocab_size(); ++id)
    ASSERT_EQ(bool(allowed[size_t(id)]), !trie()->bytes(id).empty() && continues("", trie()->bytes(id))) << id;
  // After "get_", only "weather…" and "time…" continue.
  for (int32_t id = 0; id < trie()->vocab_size(); ++id)
    if (trie()->bytes(id) == "get_" || trie()->bytes(id) == "get") {
      ToolCallConstraint d({{"get_weather\n```json\n", g}, {"get_time\n```json\n", g}}, trie(), {});
      d.advance(id);
      d.allowed(allowed);
      const std::string done = trie()->bytes(id);
      for (int32_t t = 0; t < trie()->vocab_size(); ++t)
        ASSERT_EQ(bool(allowed[size_t(t)]), !trie()->bytes(t).empty() && continues(done, trie()->bytes(t))) << t;
    }
  EXPECT_THROW(ToolCallConstraint({{"get\n", g}, {"get\n```", g}}, trie(), {}), Error);
}

TEST(JsonConstraint, MatcherAcceptsCompactJsonOfTheSchemaOnly) {
  const auto g = JsonGrammar::from_schema(kSchemas[0]);
  const auto matches = [&](const std::string& s) {
    JsonMatcher m(g);
    return m.feed(s) && m.accepting();
  };
  EXPECT_TRUE(matches(R"({"age":-12,"name":"a\"\\\u00e9 é"})"));
  EXPECT_TRUE(matches(R"({"age":0,"name":"","none":null,"ok":true,"score":1.5e-3})"));
  EXPECT_FALSE(matches(R"({"name":"a"})"));             // age is required
  EXPECT_FALSE(matches(R"({"age":1.5,"name":"a"})"));   // not an integer
  EXPECT_FALSE(matches(R"({"age":01,"name":"a"})"));    // leading zero
  EXPECT_FALSE(matches(R"({"age":1,"name":"a","x":1})"));  // not a property
  EXPECT_FALSE(matches(R"({"age": 1,"name":"a"})"));    // whitespace
  EXPECT_FALSE(matches(R"({"age":1,"name":"\x"})"));    // bad escape
  EXPECT_FALSE(matches("{\"age\":1,\"name\":\"\x01\"}"));  // control byte
  EXPECT_FALSE(matches("{\"age\":1,\"name\":\"\xff\"}"));  // not UTF-8
  // \u escapes of UTF-16 surrogates only in high-low pairs (what JSON parsers accept).
  EXPECT_TRUE(matches(R"({"age":1,"name":"\ud83d\uDE00"})"));
  EXPECT_FALSE(matches(R"({"age":1,"name":"\uDDD0"})"));         // a lone low surrogate
  EXPECT_FALSE(matches(R"({"age":1,"name":"\ud83d"})"));         // a high one left unpaired
  EXPECT_FALSE(matches(R"({"age":1,"name":"\ud83dx"})"));
  EXPECT_FALSE(matches(R"({"age":1,"name":"\ud83d\u0041"})"));  // followed by a non-surrogate
  for (const char* s : {R"({"age":1,"name":"\ud83d\uDE00"})", R"({"age":1,"name":"\uDDD0"})"})
    EXPECT_EQ(matches(s), json::accept(s)) << s;
  const auto number = JsonGrammar::from_schema(json::parse(R"({"type": "number"})"));
  JsonMatcher m(number);
  EXPECT_TRUE(m.feed("-0.5E+10"));
  EXPECT_TRUE(m.accepting());
}

TEST(JsonConstraint, UnsupportedFeaturesAreNamed) {
  const auto error_of = [](const char* schema) {
    try {
      JsonGrammar::from_schema(json::parse(schema));
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("(accepted)");
  };
  const std::string e = error_of(R"({"type": "object", "properties": {"a": {"type": "string", "pattern": "x+",
                                      "minLength": 2}}, "patternProperties": {}})");
  EXPECT_NE(e.find("unsupported JSON Schema features"), std::string::npos) << e;
  EXPECT_NE(e.find("pattern (at #/properties/a)"), std::string::npos) << e;
  EXPECT_NE(e.find("minLength (at #/properties/a)"), std::string::npos) << e;
  EXPECT_NE(e.find("patternProperties (at #)"), std::string::npos) << e;
  EXPECT_NE(error_of(R"({"anyOf": [{"type": "integer"}, {"type": "number"}]})").find("begin alike"), std::string::npos);
  EXPECT_NE(error_of(R"({"$ref": "#/$defs/missing"})").find("does not exist"), std::string::npos);
  EXPECT_NE(error_of(R"({"type": "date"})").find("not a JSON type"), std::string::npos);
  EXPECT_EQ(error_of(R"({"title": "t", "description": "d", "type": "string", "default": "x"})"), "(accepted)");
}

}  // namespace
}  // namespace dsv3
