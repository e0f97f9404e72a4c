#include "io/json_file.h"
#include "model/config.h"

#include <algorithm>

#include "core/error.h"

namespace dsv3 {

namespace {

class Reader {
 public:
  Reader(const json& j, const std::string& what) : j_(j), what_(what) {}

  int64_t integer(const char* key, int64_t fallback, bool required = false, int64_t min = 0) const {
    if (!present(key)) {
      if (required) fail(what_, ": missing \"", key, "\"");
      return fallback;
    }
    const json& v = j_[key];
    if (!v.is_number_integer() && !(v.is_number_float() && v.get<double>() == double(int64_t(v.get<double>()))))
      fail(what_, ": \"", key, "\" must be an integer");
    const int64_t x = v.is_number_integer() ? v.get<int64_t>() : int64_t(v.get<double>());
    if (x < min) fail(what_, ": \"", key, "\" must be >= ", min, " (got ", x, ")");
    return x;
  }
  double number(const char* key, double fallback) const {
    if (!present(key)) return fallback;
    if (!j_[key].is_number()) fail(what_, ": \"", key, "\" must be a number");
    return j_[key].get<double>();
  }
  bool boolean(const char* key, bool fallback) const {
    if (!present(key)) return fallback;
    if (!j_[key].is_boolean()) fail(what_, ": \"", key, "\" must be true or false");
    return j_[key].get<bool>();
  }
  std::string string(const char* key, const std::string& fallback) const {
    if (!present(key)) return fallback;
    if (!j_[key].is_string()) fail(what_, ": \"", key, "\" must be a string");
    return j_[key].get<std::string>();
  }
  bool present(const char* key) const { return j_.contains(key) && !j_[key].is_null(); }

 private:
  const json& j_;
  const std::string& what_;
};

// The plain keys of config.json, read by parse_config and written by config_to_json from this
// one list. Keys needing more than a value (architectures, nullable q_lora_rank and
// bos_token_id, eos_token_id lists, the router's enums, rope_scaling, quantization_config) are
// handled beside it.
struct IntKey {
  const char* key;
  int64_t ModelConfig::*field;
  bool required;
  int64_t min;
};
constexpr IntKey kIntKeys[] = {
    {"vocab_size", &ModelConfig::vocab_size, true, 1},
    {"hidden_size", &ModelConfig::hidden_size, true, 1},
    {"intermediate_size", &ModelConfig::intermediate_size, true, 1},
    {"moe_intermediate_size", &ModelConfig::moe_intermediate_size, false, 0},
    {"num_hidden_layers", &ModelConfig::num_hidden_layers, true, 1},
    {"num_attention_heads", &ModelConfig::num_attention_heads, true, 1},
    {"n_shared_experts", &ModelConfig::n_shared_experts, false, 0},
    {"n_routed_experts", &ModelConfig::n_routed_experts, false, 0},
    {"num_experts_per_tok", &ModelConfig::num_experts_per_tok, false, 0},
    {"n_group", &ModelConfig::n_group, false, 1},
    {"topk_group", &ModelConfig::topk_group, false, 1},
    {"first_k_dense_replace", &ModelConfig::first_k_dense_replace, false, 0},
    {"moe_layer_freq", &ModelConfig::moe_layer_freq, false, 1},
    {"kv_lora_rank", &ModelConfig::kv_lora_rank, true, 1},
    {"qk_nope_head_dim", &ModelConfig::qk_nope_head_dim, true, 0},
    {"qk_rope_head_dim", &ModelConfig::qk_rope_head_dim, true, 2},
    {"v_head_dim", &ModelConfig::v_head_dim, true, 1},
    {"max_position_embeddings", &ModelConfig::max_position_embeddings, false, 1},
    {"num_nextn_predict_layers", &ModelConfig::num_nextn_predict_layers, false, 0},
};
struct NumberKey {
  const char* key;
  double ModelConfig::*field;
};
constexpr NumberKey kNumberKeys[] = {
    {"routed_scaling_factor", &ModelConfig::routed_scaling_factor},
    {"rms_norm_eps", &ModelConfig::rms_norm_eps},
    {"rope_theta", &ModelConfig::rope_theta},
};
struct BoolKey {
  const char* key;
  bool ModelConfig::*field;
};
constexpr BoolKey kBoolKeys[] = {
    {"norm_topk_prob", &ModelConfig::norm_topk_prob},
    {"tie_word_embeddings", &ModelConfig::tie_word_embeddings},
};
struct StringKey {
  const char* key;
  std::string ModelConfig::*field;
};
constexpr StringKey kStringKeys[] = {
    {"model_type", &ModelConfig::model_type},
    {"torch_dtype", &ModelConfig::torch_dtype},
};

RopeScaling parse_rope_scaling(const json& j, const std::string& what) {
  RopeScaling r;
  if (!j.contains("rope_scaling") || j["rope_scaling"].is_null()) return r;
  const json& rs = j["rope_scaling"];
  if (!rs.is_object()) fail(what, ": \"rope_scaling\" must be an object or null");
  const std::string where = what + " rope_scaling";
  Reader rd(rs, where);
  const std::string type = rd.string("type", rd.string("rope_type", ""));
  if (type != "yarn") fail(where, ": unsupported type \"", type, "\" (supported: yarn)");
  r.yarn = true;
  r.factor = rd.number("factor", 1.0);
  r.original_max_position_embeddings = rd.integer("original_max_position_embeddings", 4096, false, 1);
  r.beta_fast = rd.number("beta_fast", 32.0);
  r.beta_slow = rd.number("beta_slow", 1.0);
  r.mscale = rd.number("mscale", 1.0);
  r.mscale_all_dim = rd.number("mscale_all_dim", 0.0);
  if (r.factor <= 0) fail(where, ": factor must be > 0");
  // Rope takes log(original / (beta · 2π)); a negative mscale has no meaning in YaRN's 0.1·m·ln(s) + 1.
  if (!(r.beta_fast > 0 && r.beta_slow > 0)) fail(where, ": beta_fast and beta_slow must be > 0");
  if (!(r.mscale >= 0 && r.mscale_all_dim >= 0)) fail(where, ": mscale and mscale_all_dim must be >= 0");
  return r;
}

void check_consistency(const ModelConfig& c, const std::string& what) {
  auto need = [&](bool ok, const auto&... why) {
    if (!ok) fail(what, ": ", why...);
  };
  need(c.qk_rope_head_dim % 2 == 0, "qk_rope_head_dim must be even (RoPE rotates pairs)");
  if (c.n_routed_experts > 0) {
    need(c.num_experts_per_tok >= 1 && c.num_experts_per_tok <= c.n_routed_experts,
         "num_experts_per_tok must be in [1, n_routed_experts]");
    need(c.n_group >= 1 && c.n_routed_experts % c.n_group == 0, "n_routed_experts must be a multiple of n_group");
    need(c.topk_group >= 1 && c.topk_group <= c.n_group, "topk_group must be in [1, n_group]");
    need(c.topk_method == TopkMethod::kGreedy ||
             c.topk_group * (c.n_routed_experts / c.n_group) >= c.num_experts_per_tok,
         "topk_group groups hold fewer experts than num_experts_per_tok");
    need(c.moe_intermediate_size > 0, "moe_intermediate_size must be > 0");
    need(c.moe_layer_freq >= 1, "moe_layer_freq must be >= 1");
  }
  need(c.eos_token_ids.empty() ||
           std::all_of(c.eos_token_ids.begin(), c.eos_token_ids.end(), [&](int64_t t) { return t >= 0; }),
       "eos_token_id must be non-negative");
}

}  // namespace

const char* scoring_func_name(ScoringFunc f) { return f == ScoringFunc::kSigmoid ? "sigmoid" : "softmax"; }

const char* topk_method_name(TopkMethod m) {
  switch (m) {
    case TopkMethod::kGreedy: return "greedy";
    case TopkMethod::kGroupLimitedGreedy: return "group_limited_greedy";
    case TopkMethod::kNoauxTc: return "noaux_tc";
  }
  return "?";
}

ScoringFunc parse_scoring_func(const std::string& s, const std::string& what) {
  for (ScoringFunc f : {ScoringFunc::kSoftmax, ScoringFunc::kSigmoid})
    if (s == scoring_func_name(f)) return f;
  fail(what, ": scoring_func \"", s, "\" is not softmax or sigmoid");
}

TopkMethod parse_topk_method(const std::string& s, const std::string& what) {
  for (TopkMethod m : {TopkMethod::kGreedy, TopkMethod::kGroupLimitedGreedy, TopkMethod::kNoauxTc})
    if (s == topk_method_name(m)) return m;
  fail(what, ": topk_method \"", s, "\" is not greedy, group_limited_greedy or noaux_tc");
}

bool ModelConfig::is_eos(int64_t token) const {
  return std::find(eos_token_ids.begin(), eos_token_ids.end(), token) != eos_token_ids.end();
}

ModelConfig parse_config(const json& j, const std::string& what) {
  if (!j.is_object()) fail(what, ": not a JSON object");
  Reader rd(j, what);
  ModelConfig c;
  if (j.contains("architectures") && j["architectures"].is_array() && !j["architectures"].empty() &&
      j["architectures"][0].is_string())
    c.architecture = j["architectures"][0].get<std::string>();
  for (const IntKey& k : kIntKeys) c.*k.field = rd.integer(k.key, c.*k.field, k.required, k.min);
  for (const NumberKey& k : kNumberKeys) c.*k.field = rd.number(k.key, c.*k.field);
  for (const BoolKey& k : kBoolKeys) c.*k.field = rd.boolean(k.key, c.*k.field);
  for (const StringKey& k : kStringKeys) c.*k.field = rd.string(k.key, c.*k.field);
  c.q_lora_rank = rd.integer("q_lora_rank", 0);  // null: plain q_proj
  c.topk_method = parse_topk_method(rd.string("topk_method", topk_method_name(c.topk_method)), what);
  c.scoring_func = parse_scoring_func(rd.string("scoring_func", scoring_func_name(c.scoring_func)), what);
  c.rope_scaling = parse_rope_scaling(j, what);
  c.bos_token_id = rd.integer("bos_token_id", -1, false, -1);
  if (j.contains("eos_token_id") && j["eos_token_id"].is_array()) {
    for (const auto& e : j["eos_token_id"]) {
      if (!e.is_number_integer()) fail(what, ": \"eos_token_id\" entries must be integers");
      c.eos_token_ids.push_back(e.get<int64_t>());
    }
  } else if (rd.present("eos_token_id")) {
    c.eos_token_ids.push_back(rd.integer("eos_token_id", 0));
  }
  const std::string act = rd.string("hidden_act", "silu");
  if (act != "silu") fail(what, ": hidden_act \"", act, "\" is not supported (silu only)");
  if (j.contains("quantization_config") && j["quantization_config"].is_object())
    parse_quantization_config(j["quantization_config"], what, c);
  check_consistency(c, what);
  return c;
}

ModelConfig load_config(const std::string& path) { return parse_config(read_json_file(path), path); }

json config_to_json(const ModelConfig& c) {
  json j = json::object();
  j["architectures"] = {c.architecture};
  for (const IntKey& k : kIntKeys) j[k.key] = c.*k.field;
  for (const NumberKey& k : kNumberKeys) j[k.key] = c.*k.field;
  for (const BoolKey& k : kBoolKeys) j[k.key] = c.*k.field;
  for (const StringKey& k : kStringKeys) j[k.key] = c.*k.field;
  j["q_lora_rank"] = c.q_lora_rank > 0 ? json(c.q_lora_rank) : json(nullptr);
  j["topk_method"] = topk_method_name(c.topk_method);
  j["scoring_func"] = scoring_func_name(c.scoring_func);
  j["bos_token_id"] = c.bos_token_id >= 0 ? json(c.bos_token_id) : json(nullptr);
  // What HF's DeepseekV3Config also expects; fixed for this architecture.
  j["num_key_value_heads"] = c.num_attention_heads;
  j["hidden_act"] = "silu";
  j["attention_bias"] = false;
  j["attention_dropout"] = 0.0;
  j["use_cache"] = true;
  if (c.fp8_quantized)
    j["quantization_config"] = {{"activation_scheme", "dynamic"},
                                {"fmt", "e4m3"},
                                {"quant_method", "fp8"},
                                {"weight_block_size", {c.weight_block_size, c.weight_block_size}}};
  if (c.eos_token_ids.size() == 1) j["eos_token_id"] = c.eos_token_ids[0];
  else j["eos_token_id"] = c.eos_token_ids;
  if (c.rope_scaling.yarn) {
    const auto& r = c.rope_scaling;
    j["rope_scaling"] = {{"type", "yarn"},
                         {"factor", r.factor},
                         {"original_max_position_embeddings", r.original_max_position_embeddings},
                         {"beta_fast", r.beta_fast},
                         {"beta_slow", r.beta_slow},
                         {"mscale", r.mscale},
                         {"mscale_all_dim", r.mscale_all_dim}};
  } else {
    j["rope_scaling"] = nullptr;
  }
  return j;
}

}  // namespace dsv3
