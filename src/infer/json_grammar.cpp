#include "infer/json_grammar.h"

#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace dsv3 {

namespace {

using json = nlohmann::json;
using Kind = GrammarNode::Kind;

constexpr size_t kMaxChoices = 64;  // properties per object and enum values (a 64-bit mask)

// The bytes a value of node n can start with.
std::set<uint8_t> first_bytes(const GrammarNode& n) {
  switch (n.kind) {
    case Kind::kObject: return {'{'};
    case Kind::kArray: return {'['};
    case Kind::kString: return {'"'};
    case Kind::kNumber:
    case Kind::kInteger: return {'-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9'};
    case Kind::kLiterals: {
      std::set<uint8_t> s;
      for (const auto& l : n.literals) s.insert(uint8_t(l[0]));
      return s;
    }
    case Kind::kUnion: {
      std::set<uint8_t> s;
      for (int b = 0; b < 256; ++b)
        if (n.by_first_byte[size_t(b)] >= 0) s.insert(uint8_t(b));
      return s;
    }
  }
  return {};
}

class Compiler {
 public:
  explicit Compiler(const json& root) : root_(root) {}

  int32_t compile(const json& s, const std::string& at) {
    if (s.is_boolean()) {
      if (s.get<bool>()) return any();
      unsupported_.push_back("false (at " + at + ")");
      return add(literals({"null"}));
    }
    if (!s.is_object()) fail("JSON Schema at ", at, " is not an object");
    check_keywords(s, at);
    if (s.contains("$ref")) return ref(s["$ref"], at);
    if (s.contains("const")) return add(literals({s["const"].dump()}));
    if (s.contains("enum")) return enumeration(s["enum"], at);
    for (const char* k : {"anyOf", "oneOf"})
      if (s.contains(k)) {
        if (!s[k].is_array() || s[k].empty()) fail("JSON Schema ", k, " at ", at, " must be a non-empty array");
        std::vector<int32_t> alts;
        for (size_t i = 0; i < s[k].size(); ++i) alts.push_back(compile(s[k][i], cat(at, "/", k, "/", i)));
        return union_of(alts, at);
      }
    if (!s.contains("type")) {
      if (s.contains("properties")) return typed("object", s, at);
      if (s.contains("items")) return typed("array", s, at);
      return any();
    }
    const json& t = s["type"];
    if (t.is_string()) return typed(t.get<std::string>(), s, at);
    if (!t.is_array() || t.empty()) fail("JSON Schema type at ", at, " must be a string or a non-empty array");
    std::vector<int32_t> alts;
    for (const json& x : t) {
      if (!x.is_string()) fail("JSON Schema type at ", at, " must list type names");
      alts.push_back(typed(x.get<std::string>(), s, at));
    }
    return union_of(alts, at);
  }

  int32_t any_object() { return free_object(any()); }

  void finish() {
    if (unsupported_.empty()) return;
    std::string list;
    for (const auto& u : unsupported_) list += (list.empty() ? "" : ", ") + u;
    fail("unsupported JSON Schema features: ", list);
  }

  JsonGrammar g;

 private:
  int32_t add(GrammarNode n) {
    g.nodes.push_back(std::move(n));
    return int32_t(g.nodes.size() - 1);
  }

  static GrammarNode literals(std::vector<std::string> values) {
    GrammarNode n;
    n.kind = Kind::kLiterals;
    n.literals = std::move(values);
    return n;
  }

  void check_keywords(const json& s, const std::string& at) {
    static const std::set<std::string> known = {
        "type", "properties", "required", "additionalProperties", "items", "minItems", "maxItems", "enum",
        "const", "anyOf", "oneOf", "$ref", "$defs", "definitions",
        // annotations: no effect on what is valid
        "title", "description", "default", "examples", "$schema", "$id", "$comment"};
    for (const auto& [k, v] : s.items())
      if (!known.count(k)) unsupported_.push_back(k + " (at " + at + ")");
  }

  int32_t free_object(int32_t value) {
    GrammarNode key, o;
    key.kind = Kind::kString;
    o.kind = Kind::kObject;
    o.free_keys = true;
    o.free_key = add(key);
    o.free_value = value;
    return add(std::move(o));
  }

  // Any JSON value: one recursive union, made once.
  int32_t any() {
    if (any_ >= 0) return any_;
    any_ = add({});  // filled below; the object and array nodes refer back to it
    GrammarNode arr, str, num, lit = literals({"true", "false", "null"});
    arr.kind = Kind::kArray;
    arr.items = any_;
    str.kind = Kind::kString;
    num.kind = Kind::kNumber;
    const std::vector<int32_t> alts = {free_object(any_), add(arr), add(str), add(num), add(lit)};
    g.nodes[size_t(any_)] = g.nodes[size_t(union_of(alts, "any value"))];
    return any_;
  }

  int32_t ref(const json& r, const std::string& at) {
    if (!r.is_string()) fail("JSON Schema $ref at ", at, " must be a string");
    const std::string path = r.get<std::string>();
    if (const auto it = refs_.find(path); it != refs_.end()) return it->second;
    json::json_pointer ptr;
    try {
      if (path.rfind("#", 0) != 0) throw std::invalid_argument("not local");
      ptr = json::json_pointer(path.substr(1));
    } catch (const std::exception&) {
      unsupported_.push_back("$ref " + path + " (at " + at + "; only local references #/...)");
      return add(literals({"null"}));
    }
    if (!root_.contains(ptr)) fail("JSON Schema $ref at ", at, ": ", path, " does not exist");
    const int32_t id = add(literals({"null"}));  // a placeholder: the target may refer to itself
    refs_[path] = id;
    const int32_t target = compile(root_[ptr], path);
    g.nodes[size_t(id)] = g.nodes[size_t(target)];
    return id;
  }

  int32_t enumeration(const json& e, const std::string& at) {
    if (!e.is_array() || e.empty()) fail("JSON Schema enum at ", at, " must be a non-empty array");
    if (e.size() > kMaxChoices) unsupported_.push_back(cat("enum of more than ", kMaxChoices, " values (at ", at, ")"));
    std::vector<std::string> values;
    for (const json& v : e) values.push_back(v.dump());
    return add(literals(values));
  }

  int32_t typed(const std::string& type, const json& s, const std::string& at) {
    GrammarNode n;
    if (type == "string") n.kind = Kind::kString;
    else if (type == "number") n.kind = Kind::kNumber;
    else if (type == "integer") n.kind = Kind::kInteger;
    else if (type == "boolean") return add(literals({"true", "false"}));
    else if (type == "null") return add(literals({"null"}));
    else if (type == "object") return object(s, at);
    else if (type == "array") return array(s, at);
    else fail("JSON Schema type '", type, "' at ", at, " is not a JSON type");
    return add(std::move(n));
  }

  int32_t object(const json& s, const std::string& at) {
    GrammarNode n;
    n.kind = Kind::kObject;
    const json props = s.value("properties", json::object());
    if (!props.is_object()) fail("JSON Schema properties at ", at, " must be an object");
    std::set<std::string> required;
    if (s.contains("required")) {
      if (!s["required"].is_array()) fail("JSON Schema required at ", at, " must be an array");
      for (const json& r : s["required"]) {
        if (!r.is_string() || !props.contains(r.get<std::string>()))
          unsupported_.push_back("required " + r.dump() + " without a schema in properties (at " + at + ")");
        else required.insert(r.get<std::string>());
      }
    }
    if (props.empty() && s.value("additionalProperties", json(true)) == json(false)) return add(literals({"{}"}));
    if (props.empty()) return free_object(compile(s.value("additionalProperties", json(true)), at + "/additionalProperties"));
    if (props.size() > kMaxChoices) unsupported_.push_back(cat("more than ", kMaxChoices, " properties (at ", at, ")"));
    // Keys in name order, as the parsed schema holds them.
    for (const auto& [k, v] : props.items()) {
      const std::string quoted = json(k).dump();
      n.keys.push_back(quoted.substr(1, quoted.size() - 2));
      n.values.push_back(compile(v, at + "/properties/" + k));
      n.required.push_back(required.count(k) > 0);
    }
    return add(std::move(n));
  }

  int32_t array(const json& s, const std::string& at) {
    GrammarNode n;
    n.kind = Kind::kArray;
    n.items = s.contains("items") ? compile(s["items"], at + "/items") : any();
    const auto count = [&](const char* k, int64_t fallback) {
      if (!s.contains(k)) return fallback;
      if (!s[k].is_number_unsigned()) fail("JSON Schema ", k, " at ", at, " must be a non-negative integer");
      return s[k].get<int64_t>();
    };
    n.min_items = count("minItems", 0);
    n.max_items = count("maxItems", -1);
    if (n.max_items >= 0 && n.max_items < n.min_items) fail("JSON Schema at ", at, ": maxItems < minItems");
    return add(std::move(n));
  }

  // Alternatives the matcher tells apart by their first byte; literals merge into one node.
  int32_t union_of(const std::vector<int32_t>& alts, const std::string& at) {
    std::vector<int32_t> parts;
    std::vector<std::string> lits;
    for (int32_t a : alts) {
      if (g.nodes[size_t(a)].kind == Kind::kLiterals) {
        for (const auto& l : g.nodes[size_t(a)].literals) lits.push_back(l);
      } else {
        parts.push_back(a);
      }
    }
    if (lits.size() > kMaxChoices) unsupported_.push_back(cat("more than ", kMaxChoices, " literal values (at ", at, ")"));
    if (!lits.empty()) parts.push_back(add(literals(lits)));
    if (parts.size() == 1) return parts[0];
    GrammarNode u;
    u.kind = Kind::kUnion;
    u.by_first_byte.fill(-1);
    for (int32_t p : parts)
      for (uint8_t b : first_bytes(g.nodes[size_t(p)])) {
        if (u.by_first_byte[b] >= 0) {
          unsupported_.push_back("alternatives that can begin alike (at " + at + ")");
          return parts[0];
        }
        u.by_first_byte[b] = p;
      }
    return add(std::move(u));
  }

  const json& root_;
  std::map<std::string, int32_t> refs_;
  std::vector<std::string> unsupported_;
  int32_t any_ = -1;
};

}  // namespace

JsonGrammar JsonGrammar::from_schema(const json& schema) {
  Compiler c(schema);
  c.g.root = c.compile(schema, "#");
  c.finish();
  return std::move(c.g);
}

JsonGrammar JsonGrammar::any_object() {
  Compiler c(json::object());
  c.g.root = c.any_object();
  return std::move(c.g);
}

}  // namespace dsv3
