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
  return r;
}

void check_consistency(const ModelConfig& c, const std::string& what) {
  auto need = [&](bool ok, const auto&... why) {
    if (!ok) fail(what, ": ", why...);
  };
  need(c.qk_rope_head_dim % 2 == 0, "qk_rope_head_dim must be even (RoPE rotates pairs)");
  need(c.scoring_func == "softmax" || c.scoring_func == "sigmoid",
       "scoring_func \"", c.scoring_func, "\" is not softmax or sigmoid");
  need(c.topk_method == "greedy" || c.topk_method == "group_limited_greedy" || c.topk_method == "noaux_tc",
       "topk_method \"", c.topk_method, "\" is not greedy, group_limited_greedy or noaux_tc");
  if (c.n_routed_experts > 0) {
    need(c.num_experts_per_tok >= 1 && c.num_experts_per_tok <= c.n_routed_experts,
         "num_experts_per_tok must be in [1, n_routed_experts]");
    need(c.n_group >= 1 && c.n_routed_experts % c.n_group == 0, "n_routed_experts must be a multiple of n_group");
    need(c.topk_group >= 1 && c.topk_group <= c.n_group, "topk_group must be in [1, n_group]");
    need(c.topk_method == "greedy" ||
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
  c.model_type = rd.string("model_type", c.model_type);
  c.vocab_size = rd.integer("vocab_size", 0, true, 1);
  c.hidden_size = rd.integer("hidden_size", 0, true, 1);
  c.intermediate_size = rd.integer("intermediate_size", 0, true, 1);
  c.num_hidden_layers = rd.integer("num_hidden_layers", 0, true, 1);
  c.num_attention_heads = rd.integer("num_attention_heads", 0, true, 1);
  c.q_lora_rank = rd.integer("q_lora_rank", 0);
  c.kv_lora_rank = rd.integer("kv_lora_rank", 0, true, 1);
  c.qk_nope_head_dim = rd.integer("qk_nope_head_dim", 0, true, 0);
  c.qk_rope_head_dim = rd.integer("qk_rope_head_dim", 0, true, 2);
  c.v_head_dim = rd.integer("v_head_dim", 0, true, 1);
  c.n_routed_experts = rd.integer("n_routed_experts", 0);
  c.moe_intermediate_size = rd.integer("moe_intermediate_size", 0);
  c.n_shared_experts = rd.integer("n_shared_experts", 0);
  c.num_experts_per_tok = rd.integer("num_experts_per_tok", 0);
  c.n_group = rd.integer("n_group", 1, false, 1);
  c.topk_group = rd.integer("topk_group", 1, false, 1);
  c.topk_method = rd.string("topk_method", c.topk_method);
  c.scoring_func = rd.string("scoring_func", c.scoring_func);
  c.norm_topk_prob = rd.boolean("norm_topk_prob", false);
  c.routed_scaling_factor = rd.number("routed_scaling_factor", 1.0);
  c.first_k_dense_replace = rd.integer("first_k_dense_replace", 0);
  c.moe_layer_freq = rd.integer("moe_layer_freq", 1, false, 1);
  c.rms_norm_eps = rd.number("rms_norm_eps", 1e-6);
  c.rope_theta = rd.number("rope_theta", 10000.0);
  c.rope_scaling = parse_rope_scaling(j, what);
  c.max_position_embeddings = rd.integer("max_position_embeddings", 4096, false, 1);
  c.num_nextn_predict_layers = rd.integer("num_nextn_predict_layers", 0);
  c.bos_token_id = rd.integer("bos_token_id", -1, false, -1);
  if (j.contains("eos_token_id") && j["eos_token_id"].is_array()) {
    for (const auto& e : j["eos_token_id"]) {
      if (!e.is_number_integer()) fail(what, ": \"eos_token_id\" entries must be integers");
      c.eos_token_ids.push_back(e.get<int64_t>());
    }
  } else if (rd.present("eos_token_id")) {
    c.eos_token_ids.push_back(rd.integer("eos_token_id", 0));
  }
  c.tie_word_embeddings = rd.boolean("tie_word_embeddings", false);
  c.torch_dtype = rd.string("torch_dtype", c.torch_dtype);
  const std::string act = rd.string("hidden_act", "silu");
  if (act != "silu") fail(what, ": hidden_act \"", act, "\" is not supported (silu only)");
  if (j.contains("quantization_config") && j["quantization_config"].is_object())
    parse_quantization_config(j["quantization_config"], what, c);
  check_consistency(c, what);
  return c;
}

ModelConfig load_config(const std::string& path) { return parse_config(read_json_file(path), path); }

json config_to_json(const ModelConfig& c) {
  json j = {
      {"architectures", {c.architecture}},
      {"model_type", c.model_type},
      {"vocab_size", c.vocab_size},
      {"hidden_size", c.hidden_size},
      {"intermediate_size", c.intermediate_size},
      {"moe_intermediate_size", c.moe_intermediate_size},
      {"num_hidden_layers", c.num_hidden_layers},
      {"num_attention_heads", c.num_attention_heads},
      {"num_key_value_heads", c.num_attention_heads},
      {"n_shared_experts", c.n_shared_experts},
      {"n_routed_experts", c.n_routed_experts},
      {"num_experts_per_tok", c.num_experts_per_tok},
      {"n_group", c.n_group},
      {"topk_group", c.topk_group},
      {"routed_scaling_factor", c.routed_scaling_factor},
      {"topk_method", c.topk_method},
      {"scoring_func", c.scoring_func},
      {"norm_topk_prob", c.norm_topk_prob},
      {"first_k_dense_replace", c.first_k_dense_replace},
      {"moe_layer_freq", c.moe_layer_freq},
      {"q_lora_rank", c.q_lora_rank > 0 ? json(c.q_lora_rank) : json(nullptr)},
      {"kv_lora_rank", c.kv_lora_rank},
      {"qk_nope_head_dim", c.qk_nope_head_dim},
      {"qk_rope_head_dim", c.qk_rope_head_dim},
      {"v_head_dim", c.v_head_dim},
      {"hidden_act", "silu"},
      {"max_position_embeddings", c.max_position_embeddings},
      {"rms_norm_eps", c.rms_norm_eps},
      {"rope_theta", c.rope_theta},
      {"attention_bias", false},
      {"attention_dropout", 0.0},
      {"tie_word_embeddings", c.tie_word_embeddings},
      {"num_nextn_predict_layers", c.num_nextn_predict_layers},
      {"bos_token_id", c.bos_token_id >= 0 ? json(c.bos_token_id) : json(nullptr)},
      {"torch_dtype", c.torch_dtype},
      {"use_cache", true},
  };
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
