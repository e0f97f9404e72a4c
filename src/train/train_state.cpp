#include "io/json_file.h"
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

void export_model(const std::string& dir, const ParamLayout& layout, const float* params, const float* biases,
                  DType dtype) {
  export_model(dir, layout, [&](const ParamTensor& t) { return params + t.offset; }, biases, dtype);
}

std::string export_source(const ModelConfig& cfg, const TensorSpec& t) {
  // The released checkpoints carry the shared embedding and head under each MTP layer too.
  if (t.role != TensorRole::kMtpCopy) return t.name;
  return t.name.ends_with("embed_tokens.weight") || cfg.tie_word_embeddings ? "model.embed_tokens.weight"
                                                                             : "lm_head.weight";
}

void export_model(const std::string& dir, const ParamLayout& layout, const TensorSource& tensor, const float* biases,
                  DType dtype) {
  ModelConfig cfg = layout.config();
  cfg.torch_dtype = dtype == DType::BF16 ? "bfloat16" : "float32";
  cfg.fp8_quantized = false;
  ShardedWriter w(dir);
  w.set_metadata("format", "pt");
  const TensorTable table(cfg);
  for (const TensorSpec& t : table.tensors()) {
    const ParamTensor* p = layout.find(export_source(cfg, t));
    const float* data = t.role == TensorRole::kBias ? biases + p->offset : tensor(*p);
    if (t.shape.size() == 2 && dtype == DType::BF16) w.add_bf16(t.name, t.shape, data);
    else w.add_f32(t.name, t.shape, data);
  }
  w.finish();
  write_file_atomic(dir + "/config.json", config_to_json(cfg).dump(1) + "\n");
}

namespace {

json state_json(const TrainState& st, const std::vector<StatePart>& parts, int64_t n_params) {
  const AdamW& adam = *parts.front().adam;
  json j = {{"step", st.step},          {"tokens", st.tokens},     {"epoch", st.epoch},
            {"cursor", st.cursor},      {"elapsed_s", st.elapsed_s}, {"adam_steps", adam.steps()},
            {"bf16_moments", adam.options().bf16_moments}, {"options", st.options}};
  // A data-parallel rank's file holds slices [lo, hi) of its parameter buffer.
  for (const StatePart& p : parts)
    if (p.adam->range().size() != n_params) j[p.prefix + "slice"] = {p.adam->range().lo, p.adam->range().hi};
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
                        const float* biases, const std::vector<StatePart>& parts, const TrainState& st) {
  SafetensorsWriter w;
  w.add_f32("biases", {layout.n_bias()}, biases);
  for (const StatePart& part : parts) {
    const AdamW& adam = *part.adam;
    const int64_t n = adam.range().size();
    w.add_f32(part.prefix + "params", {n}, params + adam.range().lo);
    const auto m = adam.moment(0), v = adam.moment(1);
    if (adam.options().bf16_moments) {
      w.add_bf16(part.prefix + "adam_m", {n}, m.data());  // exact: the moments are BF16 values
      w.add_bf16(part.prefix + "adam_v", {n}, v.data());
    } else {
      w.add_f32(part.prefix + "adam_m", {n}, m.data());
      w.add_f32(part.prefix + "adam_v", {n}, v.data());
    }
  }
  w.set_metadata("dsv3_trainer_state", state_json(st, parts, layout.n_params()).dump());
  maybe_die_in_save(path, w, st.step);
  w.write(path);
}

void load_trainer_state(const std::string& path, const ParamLayout& layout, float* params, float* biases,
                        const std::vector<StatePart>& parts, TrainState& st) {
  const SafetensorsFile f(path);
  auto it = f.metadata().find("dsv3_trainer_state");
  if (it == f.metadata().end()) fail(path, ": not a dsv3 trainer state (no metadata)");
  const json j = parse_json_text(it->second, path + " metadata");
  auto tensor = [&](const std::string& name, int64_t n) {
    const TensorInfo* t = f.find(name);
    if (!t || t->shape != std::vector<int64_t>{n}) fail(path, ": tensor '", name, "' missing or not of size ", n);
    return tensor_to_f32(*t);
  };
  const auto b = tensor("biases", layout.n_bias());
  std::copy(b.begin(), b.end(), biases);
  if (j.value("bf16_moments", false) != parts.front().adam->options().bf16_moments)
    fail(path, ": saved with bf16_moments=", j.value("bf16_moments", false), "; this run asks otherwise");
  const json whole = json::array({0, layout.n_params()});
  for (const StatePart& part : parts) {
    const ParamRange r = part.adam->range();
    const json saved = j.value(part.prefix + "slice", whole);
    if (saved != json::array({r.lo, r.hi}))
      fail(path, ": holds ", part.prefix, "parameters ", saved.dump(), ", this rank's slice is [", r.lo, ", ", r.hi, "]");
    const auto p = tensor(part.prefix + "params", r.size());
    std::copy(p.begin(), p.end(), params + r.lo);
    part.adam->restore(tensor(part.prefix + "adam_m", r.size()), tensor(part.prefix + "adam_v", r.size()),
                       j.at("adam_steps").get<int64_t>());
  }
  st.step = j.at("step").get<int64_t>();
  st.tokens = j.at("tokens").get<int64_t>();
  st.epoch = j.at("epoch").get<int64_t>();
  st.cursor = j.at("cursor").get<int64_t>();
  st.elapsed_s = j.at("elapsed_s").get<double>();
  st.options = j.at("options");
}

}  // namespace dsv3
