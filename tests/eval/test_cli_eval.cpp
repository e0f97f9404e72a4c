// dsv3 eval end to end on the default model with tiny task files: each kind's JSON object and
// markdown table, a prompt longer than the context scored as failed with its reason, malformed
// task files as one-line errors naming file and line, perplexity equal to dsv3 perplexity's,
// and the progress line.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>

#include "io/json_file.h"
#include "test_util.h"

namespace dsv3 {
namespace {

using test::run_dsv3;
using test::RunResult;

const std::string kModel = test::data_path("../../models/default");
const std::string kTasks = test::data_path("../../data/eval");

std::string first_lines(const std::string& path, int n) {
  const std::string all = test::read_text(path);
  size_t end = 0;
  for (int i = 0; i < n && end != std::string::npos; ++i) end = all.find('\n', end + 1);
  return all.substr(0, end == std::string::npos ? all.size() : end + 1);
}

json eval_json(const std::string& args) {
  const RunResult r = run_dsv3("eval --model " + kModel + " --json --threads 2 " + args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find('\n'), r.out.size() - 1) << "one line of JSON: " << r.out;
  EXPECT_EQ(r.out.rfind("{\"metric\":", 0), 0u) << "the primary metric first: " << r.out;
  const json j = json::parse(r.out, nullptr, false);
  EXPECT_TRUE(j.is_object()) << r.out;
  return j;
}

void expect_interval_around_value(const json& m) {
  const double v = m["value"], lo = m["ci"][0], hi = m["ci"][1];
  EXPECT_LE(lo, v) << m.dump();
  EXPECT_GE(hi, v) << m.dump();
}

TEST(CliEval, MultipleChoiceWithATooLongPromptScoredAsFailed) {
  test::TempDir tmp;
  std::string long_question;
  for (int i = 0; i < 1200; ++i) long_question += "dog ";
  test::write_text(tmp.file("t.jsonl"), first_lines(kTasks + "/wordnet_mc_train.jsonl", 3) +
                                            json{{"question", long_question}, {"choices", {"a", "b"}}, {"answer", 0}}.dump() + "\n");
  const json j = eval_json("--task " + tmp.file("t.jsonl"));
  EXPECT_EQ(j["metric"], "accuracy");
  EXPECT_EQ(j["kind"], "mc");
  EXPECT_EQ(j["n"], 4);
  EXPECT_EQ(j["ci_method"], "wilson");
  ASSERT_EQ(j["metrics"].size(), 2u);
  EXPECT_EQ(j["metrics"][1]["metric"], "acc_norm");
  for (const json& m : j["metrics"]) expect_interval_around_value(m);
  ASSERT_EQ(j["failed"], 1);
  EXPECT_EQ(j["failures"][0]["line"], 4);
  EXPECT_NE(j["failures"][0]["reason"].get<std::string>().find("more than the context of 1024"), std::string::npos);
  // The markdown table, and the failure on stderr naming file and line.
  const RunResult md = run_dsv3("eval --model " + kModel + " --task " + tmp.file("t.jsonl"));
  ASSERT_EQ(md.exit_code, 0) << md.err;
  EXPECT_NE(md.out.find("| task | metric | value | 95% CI | n |"), std::string::npos) << md.out;
  EXPECT_NE(md.out.find("| acc_norm |"), std::string::npos) << md.out;
  EXPECT_NE(md.err.find(tmp.file("t.jsonl") + ":4: sample failed"), std::string::npos) << md.err;
}

TEST(CliEval, GenerationExactMatchAndPassAtK) {
  test::TempDir tmp;
  test::write_text(tmp.file("g.jsonl"), first_lines(kTasks + "/wordnet_synonym.jsonl", 2));
  const json em = eval_json("--task " + tmp.file("g.jsonl") + " --max-new-tokens 6 --samples-out " + tmp.file("s.jsonl"));
  EXPECT_EQ(em["metric"], "exact_match");
  EXPECT_EQ(em["n"], 2);
  expect_interval_around_value(em);
  // One line per item with its outputs, cut at the stop strings "," and ":".
  const std::string samples = test::read_text(tmp.file("s.jsonl"));
  const json first = json::parse(samples.substr(0, samples.find('\n')));
  ASSERT_EQ(first["outputs"].size(), 1u);
  const std::string out = first["outputs"][0];
  EXPECT_EQ(out.find_first_of(",:"), std::string::npos) << out;

  const json pk = eval_json("--task " + tmp.file("g.jsonl") + " --max-new-tokens 6 --samples 3 --k 1,2 --temperature 0.8 --seed 3");
  EXPECT_EQ(pk["metric"], "pass@1");
  ASSERT_EQ(pk["metrics"].size(), 2u);
  EXPECT_EQ(pk["metrics"][1]["metric"], "pass@2");
  EXPECT_EQ(pk["ci_method"], "bootstrap");
  EXPECT_GE(pk["metrics"][1]["value"].get<double>(), pk["value"].get<double>());  // pass@2 >= pass@1
  // Sampling is seeded: the same command gives the same numbers.
  EXPECT_EQ(eval_json("--task " + tmp.file("g.jsonl") + " --max-new-tokens 6 --samples 3 --k 1,2 --temperature 0.8 --seed 3"), pk);
}

TEST(CliEval, GenerationPromptOverTheContextFails) {
  test::TempDir tmp;
  std::string long_prompt;
  for (int i = 0; i < 1100; ++i) long_prompt += "cat ";
  test::write_text(tmp.file("g.jsonl"), json{{"prompt", long_prompt}, {"answer", "x"}}.dump() + "\n" +
                                            first_lines(kTasks + "/wordnet_synonym.jsonl", 1));
  const json j = eval_json("--task " + tmp.file("g.jsonl") + " --max-new-tokens 4");
  EXPECT_EQ(j["n"], 2);
  ASSERT_EQ(j["failed"], 1);
  EXPECT_EQ(j["failures"][0]["line"], 1);
  EXPECT_NE(j["failures"][0]["reason"].get<std::string>().find("context"), std::string::npos);
}

TEST(CliEval, PerplexityEqualsDsv3Perplexity) {
  const std::string text = kTasks + "/wordnet_heldout.txt";
  const json j = eval_json("--task " + text + " --lines --ctx 32 --chunks 3");
  EXPECT_EQ(j["metric"], "perplexity");
  EXPECT_EQ(j["n"], 3 * (32 - 1 - 16));
  expect_interval_around_value(j);
  ASSERT_FALSE(j["by_position"].empty());
  EXPECT_EQ(j["by_position"][0]["from"], 1);
  const RunResult p = run_dsv3("perplexity --model " + kModel + " --text " + text + " --lines --ctx 32 --chunks 3");
  ASSERT_EQ(p.exit_code, 0) << p.err;
  const size_t at = p.out.find("PPL  ");
  ASSERT_NE(at, std::string::npos) << p.out;
  EXPECT_NEAR(std::stod(p.out.substr(at + 5)), j["value"].get<double>(), 6e-5) << p.out;
}

TEST(CliEval, PasskeyGridAndProgressLine) {
  setenv("DSV3_PROGRESS", "1", 1);
  const RunResult r = run_dsv3("eval --model " + kModel + " --kind passkey --lengths 96,128 --depths 0,1 --trials 2 --json");
  unsetenv("DSV3_PROGRESS");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_EQ(j["metric"], "passkey");
  EXPECT_EQ(j["n"], 8);
  ASSERT_EQ(j["metrics"].size(), 3u);
  EXPECT_EQ(j["metrics"][1]["metric"], "key_digits");
  EXPECT_EQ(j["metrics"][1]["n"], 40);  // 8 five-digit keys
  // Teacher-forced: every answer token of the 8 prompts is scored once, counted by position.
  EXPECT_EQ(j["metrics"][2]["metric"], "key_tokens");
  const json& by_token = j["key_tokens_by_position"];
  ASSERT_GE(by_token.size(), 2u);  // at least " " and one digit token
  EXPECT_EQ(by_token[0]["n"], 8);
  int64_t tried = 0, hits = 0;
  for (const json& t : by_token) tried += t["n"].get<int64_t>(), hits += t["argmax"].get<int64_t>();
  EXPECT_EQ(j["metrics"][2]["n"], tried);
  EXPECT_NEAR(j["metrics"][2]["value"].get<double>(), double(hits) / double(tried), 1e-12);
  ASSERT_EQ(j["grid"].size(), 4u);
  EXPECT_EQ(j["grid"][3]["length"], 128);
  EXPECT_EQ(j["grid"][3]["depth"], 1.0);
  EXPECT_NE(r.err.find("8/8"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("ETA"), std::string::npos) << r.err;
  // The grid as a heat map.
  test::TempDir tmp;
  test::write_text(tmp.file("pk.json"), r.out);
  const RunResult plot = run_dsv3("plot --needle " + tmp.file("pk.json") + " --out " + tmp.file("grid.svg"));
  ASSERT_EQ(plot.exit_code, 0) << plot.err;
  const std::string svg = test::read_text(tmp.file("grid.svg"));
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("/2</text>"), std::string::npos) << svg;  // each cell labelled k/n
  EXPECT_NE(svg.find(">128</text>"), std::string::npos) << svg;
  EXPECT_NE(svg.find("length 96, depth 0: "), std::string::npos) << svg;
  test::write_text(tmp.file("other.json"), "{\"metric\": \"accuracy\"}");
  const RunResult bad = run_dsv3("plot --needle " + tmp.file("other.json") + " --out " + tmp.file("x.svg"));
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("no \"grid\""), std::string::npos) << bad.err;
}

TEST(CliEval, MalformedTaskFilesAreOneLineErrors) {
  test::TempDir tmp;
  const auto error_of = [&](const std::string& text, const std::string& extra = "") {
    test::write_text(tmp.file("bad.jsonl"), text);
    const RunResult r = run_dsv3("eval --model " + kModel + " --task " + tmp.file("bad.jsonl") + extra);
    EXPECT_EQ(r.exit_code, 1) << r.out;
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
    return r.err;
  };
  const std::string ok = "{\"question\": \"dog:\", \"choices\": [\"a\", \"b\"], \"answer\": 0}\n";
  EXPECT_NE(error_of(ok + "{\"question\": oops}\n").find("bad.jsonl:2: not valid JSON"), std::string::npos);
  EXPECT_NE(error_of(ok + "{\"question\": \"q\", \"choices\": [\"a\"], \"answer\": 1}\n").find("bad.jsonl:2: \"answer\" 1 is out of range"),
            std::string::npos);
  EXPECT_NE(error_of("{\"question\": \"q\", \"choices\": [], \"answer\": 0}\n").find("bad.jsonl:1: \"choices\" is empty"),
            std::string::npos);
  EXPECT_NE(error_of("{\"prompt\": \"q\"}\n", " --kind gen").find("bad.jsonl:1: missing \"answer\""), std::string::npos);
  EXPECT_NE(error_of(ok, " --kind gen --answer 'regex:('").find("cannot compile"), std::string::npos);
  EXPECT_NE(error_of(ok, " --kind nonsense").find("--kind must be"), std::string::npos);
}

}  // namespace
}  // namespace dsv3
