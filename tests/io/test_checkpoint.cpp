// Loading checkpoint folders: every tensor the config implies is checked before running, and
// each kind of damage gives one clear line naming the file and the tensor.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/error.h"
#include "damage.h"
#include "io/checkpoint.h"
#include "model/model.h"
#include "test_util.h"

namespace dsv3 {
namespace {

using test::TempDir;

class DamagedCheckpoint : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = tmp_.file("ckpt");
    test::copy_dir(test::model_path(fixture()), dir_);
  }
  virtual const char* fixture() const { return "v3-tiny"; }
  // Model::load must fail with a single line containing every part.
  void expect_load_error(std::initializer_list<std::string> parts) {
    try {
      Model::load(dir_);
      FAIL() << "loaded a damaged checkpoint";
    } catch (const Error& e) {
      const std::string msg = e.what();
      for (const auto& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' not in: " << msg;
      EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    }
  }
  TempDir tmp_;
  std::string dir_;
};

const std::string kQb = "model.layers.1.self_attn.q_b_proj.weight";

TEST_F(DamagedCheckpoint, IntactCopyLoads) { EXPECT_NO_THROW(Model::load(dir_)); }

TEST_F(DamagedCheckpoint, MissingTensor) {
  const std::string shard = test::shard_of(dir_, kQb);
  test::rewrite_shard(shard, [](const TensorInfo& t, SafetensorsWriter&) { return t.name != kQb; });
  // The index still lists it for that shard.
  expect_load_error({kQb, "model-0000"});
}

TEST_F(DamagedCheckpoint, MissingTensorNotInIndexEither) {
  const std::string name = "model.layers.2.mlp.experts.7.up_proj.weight";
  test::rewrite_shard(test::shard_of(dir_, name), [&](const TensorInfo& t, SafetensorsWriter&) { return t.name != name; });
  std::filesystem::remove(dir_ + "/model.safetensors.index.json");  // fall back to *.safetensors
  expect_load_error({"missing tensor", name});
}

TEST_F(DamagedCheckpoint, WrongShape) {
  test::rewrite_shard(test::shard_of(dir_, kQb), [](const TensorInfo& t, SafetensorsWriter& w) {
    if (t.name != kQb) return true;
    w.add(t.name, t.dtype, {t.shape[1], t.shape[0]}, t.data, t.nbytes);
    return false;
  });
  expect_load_error({kQb, "has shape [32, 96]", "expected [96, 32]"});
}

TEST_F(DamagedCheckpoint, WrongDtype) {
  test::rewrite_shard(test::shard_of(dir_, kQb), [](const TensorInfo& t, SafetensorsWriter& w) {
    if (t.name != kQb) return true;
    w.add(t.name, DType::I16, t.shape, t.data, t.nbytes);  // same bytes, integer type
    return false;
  });
  expect_load_error({kQb, "dtype I16"});
}

TEST_F(DamagedCheckpoint, TruncatedShard) {
  const std::string shard = test::shard_of(dir_, kQb);
  test::truncate_file(shard, std::filesystem::file_size(shard) - 1000);
  expect_load_error({shard, "truncated"});
}

TEST_F(DamagedCheckpoint, HeaderClaimsMoreBytesThanTheFile) {
  const std::string shard = test::shard_of(dir_, kQb);
  test::overwrite_header_length(shard, 1ull << 40);
  expect_load_error({shard, "header claims"});
}

TEST_F(DamagedCheckpoint, ConfigIsNotJson) {
  test::write_text(dir_ + "/config.json", "{\"hidden_size\": 64,,}");
  expect_load_error({"config.json", "not valid JSON"});
}

TEST_F(DamagedCheckpoint, ConfigMissingKeyOrWrongType) {
  const std::string good = test::read_text(dir_ + "/config.json");
  std::string bad = good;
  bad.replace(bad.find("\"kv_lora_rank\""), 14, "\"kv_lora_rnak\"");
  test::write_text(dir_ + "/config.json", bad);
  expect_load_error({"config.json", "missing \"kv_lora_rank\""});
  bad = good;
  bad.replace(bad.find("\"hidden_size\": 64"), 17, "\"hidden_size\": \"64\"");
  test::write_text(dir_ + "/config.json", bad);
  expect_load_error({"config.json", "\"hidden_size\" must be an integer"});
}

TEST_F(DamagedCheckpoint, ConfigShapesDisagreeWithTensors) {
  std::string cfg = test::read_text(dir_ + "/config.json");
  cfg.replace(cfg.find("\"num_attention_heads\": 4"), 24, "\"num_attention_heads\": 8");
  test::write_text(dir_ + "/config.json", cfg);
  expect_load_error({"q_b_proj.weight", "expected"});
}

TEST_F(DamagedCheckpoint, ShardListedInIndexIsMissing) {
  std::filesystem::remove(test::shard_of(dir_, kQb));
  expect_load_error({"is listed but missing"});
}

TEST_F(DamagedCheckpoint, ExtraTensorsAreReportedNotFatal) {
  test::rewrite_shard(test::shard_of(dir_, kQb), [](const TensorInfo&, SafetensorsWriter& w) {
    static bool once = false;
    if (!once) {
      const float v[2] = {1, 2};
      w.add_f32("model.layers.0.self_attn.rotary_emb.inv_freq", {2}, v);
      once = true;
    }
    return true;
  });
  const auto m = Model::load(dir_);
  ASSERT_EQ(m->unused_tensors().size(), 1u);
  EXPECT_EQ(m->unused_tensors()[0], "model.layers.0.self_attn.rotary_emb.inv_freq");
}

class DamagedFp8Checkpoint : public DamagedCheckpoint {
  const char* fixture() const override { return "v3-tiny-fp8"; }
};

TEST_F(DamagedFp8Checkpoint, Fp8WeightWithoutScale) {
  const std::string scale = "model.layers.1.self_attn.o_proj.weight_scale_inv";
  test::rewrite_shard(test::shard_of(dir_, scale), [&](const TensorInfo& t, SafetensorsWriter&) { return t.name != scale; });
  expect_load_error({scale});
}

TEST_F(DamagedFp8Checkpoint, ScaleWithWrongBlockCount) {
  const std::string scale = "model.layers.1.self_attn.o_proj.weight_scale_inv";
  test::rewrite_shard(test::shard_of(dir_, scale), [&](const TensorInfo& t, SafetensorsWriter& w) {
    if (t.name != scale) return true;
    w.add(t.name, t.dtype, {t.shape[0] * t.shape[1]}, t.data, t.nbytes);
    return false;
  });
  expect_load_error({scale, "expected"});
}

}  // namespace
}  // namespace dsv3
