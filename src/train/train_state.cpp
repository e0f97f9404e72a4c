#include "train/train_state.h"

#include <csignal>
#include <cstdlib>
#include <filesystem>

#include "core/error.h"
#include "io/safetensors.h"
#include "io/safetensors_writer.h"
#include "io/sharded_writer.h"
#include "model/config.h"

namespace dsv3 {

std::string export_source(const ModelConfig& cfg, const TensorSpec& t) {
  // The released checkpoints carry the shared embedding and head under each MTP layer too.
  if (t.role != TensorRole::kMtpCopy) return t.name;
  return t.name.ends_with("embed_tokens.weight") || cfg.tie_word_embeddings ? "model.embed_tokens.weight"
                                                                             : "lm_head.weight";
}

void export_model(const std::string& dir, const ModelConfig& config, DType dtype,
                  const std::function<const float*(const std::string& source, TensorRole role)>& values) {
  ModelConfig cfg = config;
  cfg.torch_dtype = dtype == DType::BF16 ? "bfloat16" : "float32";
  cfg.fp8_quantized = false;
  ShardedWriter w(dir);
  w.set_metadata("format", "pt");
  const TensorTable table(cfg);
  for (const TensorSpec& t : table.tensors()) {
    const float* data = values(export_source(cfg, t), t.role);
    if (t.shape.size() == 2 && dtype == DType::BF16) w.add_bf16(t.name, t.shape, data);
    else w.add_f32(t.name, t.shape, data);
  }
  w.finish();
  write_file_atomic(dir + "/config.json", config_to_json(cfg).dump(1) + "\n");
}

void export_model(const std::string& dir, const ParamLayout& layout, const float* params, const float* biases,
                  DType dtype) {
  export_model(dir, layout.config(), dtype, [&](const std::string& source, TensorRole role) {
    return (role == TensorRole::kBias ? biases : params) + layout.find(source)->offset;
  });
}

namespace {

json state_json(const TrainState& st, const AdamW& adam, int64_t n_params) {
  json j = {{"step", st.step},          {"tokens", st.tokens},     {"epoch", st.epoch},
            {"cursor", st.cursor},      {"elapsed_s", st.elapsed_s}, {"adam_steps", adam.steps()},
            {"bf16_moments", adam.options().bf16_moments}, {"options", st.options}};
  // A data-parallel rank's file holds its ZeRO-1 slice [lo, hi) of params and moments.
  if (adam.range().size() != n_params) j["slice"] = {adam.range().lo, adam.range().hi};
  return j;
}

// Test hook: DSV3_TRAIN_DIE_IN_SAVE=N kills the process (SIGKILL) in the middle of writing the
// trainer state of step N — half of the file is in the temp file — as a crash at the worst moment.
void maybe_die_in_save(const std::string& path, const SafetensorsWriter& w, int64_t step) {
  const char* env = std::getenv("DSV3_TRAIN_DIE_IN_SAVE");
  if (!env || std::atoll(env) != step) return;
  w.write(path + ".full");
  const auto size = std::filesystem::file_size(path + ".full");
  std::filesystem::rename(path + ".full", path + ".tmp");
  std::filesystem::resize_file(path + ".tmp", size / 2);
  std::raise(SIGKILL);
}

}  // namespace

void save_trainer_state(const std::string& path, const ParamLayout& layout, const float* params,
                        const float* biases, const AdamW& adam, const TrainState& st) {
  SafetensorsWriter w;
  const int64_t n = adam.range().size();
  w.add_f32("params", {n}, params + adam.range().lo);
  w.add_f32("biases", {layout.n_bias()}, biases);
  const auto m = adam.moment(0), v = adam.moment(1);
  if (adam.options().bf16_moments) {
    w.add_bf16("adam_m", {n}, m.data());  // exact: the moments are BF16 values
    w.add_bf16("adam_v", {n}, v.data());
  } else {
    w.add_f32("adam_m", {n}, m.data());
    w.add_f32("adam_v", {n}, v.data());
  }
  w.set_metadata("dsv3_trainer_state", state_json(st, adam, layout.n_params()).dump());
  maybe_die_in_save(path, w, st.step);
  w.write(path);
}

void load_trainer_state(const std::string& path, const ParamLayout& layout, float* params, float* biases,
                        AdamW& adam, TrainState& st) {
  const SafetensorsFile f(path);
  auto it = f.metadata().find("dsv3_trainer_state");
  if (it == f.metadata().end()) fail(path, ": not a dsv3 trainer state (no metadata)");
  const json j = parse_json_text(it->second, path + " metadata");
  auto tensor = [&](const char* name, int64_t n) {
    const TensorInfo* t = f.find(name);
    if (!t || t->shape != std::vector<int64_t>{n}) fail(path, ": tensor '", name, "' missing or not of size ", n);
    return tensor_to_f32(*t);
  };
  const ParamRange r = adam.range();
  const json whole = json::array({0, layout.n_params()});
  if (j.value("slice", whole) != json::array({r.lo, r.hi}))
    fail(path, ": holds parameters ", j.value("slice", whole).dump(), ", this rank's slice is [", r.lo, ", ", r.hi, "]");
  const auto p = tensor("params", r.size()), b = tensor("biases", layout.n_bias());
  std::copy(p.begin(), p.end(), params + r.lo);
  std::copy(b.begin(), b.end(), biases);
  if (j.value("bf16_moments", false) != adam.options().bf16_moments)
    fail(path, ": saved with bf16_moments=", j.value("bf16_moments", false), "; this run asks otherwise");
  adam.restore(tensor("adam_m", r.size()), tensor("adam_v", r.size()), j.at("adam_steps").get<int64_t>());
  st.step = j.at("step").get<int64_t>();
  st.tokens = j.at("tokens").get<int64_t>();
  st.epoch = j.at("epoch").get<int64_t>();
  st.cursor = j.at("cursor").get<int64_t>();
  st.elapsed_s = j.at("elapsed_s").get<double>();
  st.options = j.at("options");
}

}  // namespace dsv3
