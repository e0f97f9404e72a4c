// config.json: parse_config and config_to_json share one key table, so writing then reading a
// config gives it back; the router's enums name an unknown value in their error.
#include <gtest/gtest.h>

#include "core/error.h"
#include "io/json_file.h"
#include "model/config.h"
#include "test_util.h"

namespace dsv3 {
namespace {

std::string error_of(const json& j) {
  try {
    parse_config(j, "config.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Config, WriteThenParseGivesTheConfigBack) {
  for (const char* name : {"v3-tiny", "v3-tiny-fp8", "v2-lite-tiny"}) {
    const ModelConfig c = load_config(test::model_path(name) + "/config.json");
    const json written = config_to_json(c);
    const ModelConfig back = parse_config(written, name);
    EXPECT_EQ(config_to_json(back), written) << name;
    EXPECT_EQ(back.topk_method, c.topk_method) << name;
    EXPECT_EQ(back.scoring_func, c.scoring_func) << name;
    EXPECT_EQ(back.fp8_quantized, c.fp8_quantized) << name;
    EXPECT_EQ(back.q_lora_rank, c.q_lora_rank) << name;
  }
}

TEST(Config, RouterEnumsParseOnceAndNameUnknownValues) {
  json j = config_to_json(load_config(test::model_path("v3-tiny") + "/config.json"));
  EXPECT_EQ(parse_config(j, "x").topk_method, TopkMethod::kNoauxTc);
  EXPECT_EQ(parse_config(j, "x").scoring_func, ScoringFunc::kSigmoid);
  j["topk_method"] = "group_limited_greedy";
  EXPECT_EQ(parse_config(j, "x").topk_method, TopkMethod::kGroupLimitedGreedy);
  j["topk_method"] = "noaux";
  EXPECT_EQ(error_of(j), "config.json: topk_method \"noaux\" is not greedy, group_limited_greedy or noaux_tc");
  j["topk_method"] = "greedy";
  j["scoring_func"] = "relu";
  EXPECT_EQ(error_of(j), "config.json: scoring_func \"relu\" is not softmax or sigmoid");
}

}  // namespace
}  // namespace dsv3
