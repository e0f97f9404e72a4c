// The metrics of dsv3 eval against values computed by hand: unbiased pass@k, Wilson and normal
// intervals, the bootstrap, acc_norm's character-length normalisation, each answer-extraction
// rule and the normalisation of answers, the report's JSON, the progress line, passkey's digits.
#include <gtest/gtest.h>

#include "core/error.h"
#include "eval/extract.h"
#include "eval/gen.h"
#include "eval/metrics.h"
#include "eval/passkey.h"
#include "eval/progress.h"
#include "eval/report.h"

namespace dsv3::eval {
namespace {

TEST(PassAtK, MatchesTheBinomialFormula) {
  // 1 - C(n-c, k) / C(n, k), by hand.
  EXPECT_NEAR(pass_at_k(5, 2, 1), 1.0 - 3.0 / 5.0, 1e-12);
  EXPECT_NEAR(pass_at_k(5, 2, 2), 1.0 - 3.0 / 10.0, 1e-12);
  EXPECT_NEAR(pass_at_k(5, 2, 3), 1.0 - 1.0 / 10.0, 1e-12);
  EXPECT_EQ(pass_at_k(5, 2, 4), 1.0);  // n - c < k: every draw of 4 holds a correct one
  EXPECT_NEAR(pass_at_k(10, 3, 5), 1.0 - 21.0 / 252.0, 1e-12);
  EXPECT_EQ(pass_at_k(10, 0, 5), 0.0);
  EXPECT_EQ(pass_at_k(10, 10, 1), 1.0);
  // pass@1 is the fraction correct.
  EXPECT_NEAR(pass_at_k(200, 37, 1), 37.0 / 200.0, 1e-12);
  // Large n stays finite (the product form, not factorials).
  EXPECT_NEAR(pass_at_k(1000, 1, 100), 0.1, 1e-12);
}

TEST(PassAtK, RejectsImpossibleCounts) {
  EXPECT_THROW(pass_at_k(5, 6, 1), Error);
  EXPECT_THROW(pass_at_k(5, 2, 6), Error);
  EXPECT_THROW(pass_at_k(5, 2, 0), Error);
}

TEST(Intervals, WilsonMatchesTheClosedForm) {
  // 8 of 10: p = .8, z = 1.95996: centre (p + z²/2n)/(1 + z²/n) = .71674, half-width .22658.
  const Interval a = wilson_interval(8, 10);
  EXPECT_NEAR(a.lo, 0.490162, 1e-5);
  EXPECT_NEAR(a.hi, 0.943318, 1e-5);
  // 0 of 10: [0, z²/(n + z²)] = [0, 0.277533].
  const Interval b = wilson_interval(0, 10);
  EXPECT_EQ(b.lo, 0.0);
  EXPECT_NEAR(b.hi, 0.277533, 1e-5);
  // 10 of 10 mirrors it.
  const Interval c = wilson_interval(10, 10);
  EXPECT_NEAR(c.lo, 1.0 - 0.277533, 1e-5);
  EXPECT_EQ(c.hi, 1.0);
  const Interval none = wilson_interval(0, 0);
  EXPECT_EQ(none.lo, 0.0);
  EXPECT_EQ(none.hi, 0.0);
}

TEST(Intervals, NormalAndBootstrap) {
  // mean 2, s = 1, se = 1/sqrt(3): 2 ± 1.95996 · 0.57735.
  const Interval n = normal_mean_interval({1, 2, 3});
  EXPECT_NEAR(n.lo, 2.0 - 1.131586, 1e-5);
  EXPECT_NEAR(n.hi, 2.0 + 1.131586, 1e-5);
  const Interval same = bootstrap_mean_interval({0.5, 0.5, 0.5});
  EXPECT_EQ(same.lo, 0.5);
  EXPECT_EQ(same.hi, 0.5);
  // Half zeros, half ones, 400 values: the bootstrap interval of the mean is close to the
  // normal one (0.5 ± 1.96 · 0.5/20 = [0.451, 0.549]), and repeats exactly for a seed.
  std::vector<double> v(400, 0.0);
  for (size_t i = 0; i < v.size(); i += 2) v[i] = 1.0;
  const Interval b = bootstrap_mean_interval(v, 4000, 7);
  EXPECT_NEAR(b.lo, 0.451, 0.01);
  EXPECT_NEAR(b.hi, 0.549, 0.01);
  const Interval again = bootstrap_mean_interval(v, 4000, 7);
  EXPECT_EQ(b.lo, again.lo);
  EXPECT_EQ(b.hi, again.hi);
}

TEST(AccNorm, DividesByCharactersNotBytesOrTokens) {
  EXPECT_EQ(choice_length("héllo"), 5);  // 6 bytes
  EXPECT_EQ(choice_length(""), 0);
  // acc picks -2 over -4; acc_norm compares -2/1 with -4/4 and picks the second.
  McOutcome o = mc_outcome({-2.0, -4.0}, {"a", "bbbb"});
  EXPECT_EQ(o.pred, 0);
  EXPECT_EQ(o.pred_norm, 1);
  // "é" is one character (two bytes): -1.5/1 < -2/2, so acc_norm picks "ab"; by bytes
  // (-1.5/2 = -0.75 > -1) it would have picked "é".
  o = mc_outcome({-1.5, -2.0}, {"é", "ab"});
  EXPECT_EQ(o.pred, 0);
  EXPECT_EQ(o.pred_norm, 1);
  // Ties go to the first, as numpy's argmax.
  EXPECT_EQ(argmax_index({-1.0, -1.0}), 0);
}

TEST(Extract, LastNumber) {
  EXPECT_EQ(last_number("I had 3 apples and got 1,234.50 more."), "1234.5");
  EXPECT_EQ(last_number("It is 42."), "42");
  EXPECT_EQ(last_number("-5 degrees"), "-5");
  EXPECT_EQ(last_number("from 10 to 0.250"), "0.25");
  EXPECT_EQ(last_number("a 007 b"), "7");
  EXPECT_EQ(last_number("no digits here"), std::nullopt);
}

TEST(Extract, Boxed) {
  EXPECT_EQ(last_boxed("first \\boxed{3}, finally \\boxed{\\frac{1}{2}}"), "\\frac{1}{2}");
  EXPECT_EQ(last_boxed("so \\boxed{ 7 }"), "7");
  EXPECT_EQ(last_boxed("\\boxed{3"), std::nullopt);
  EXPECT_EQ(last_boxed("nothing"), std::nullopt);
}

TEST(Extract, RulesByName) {
  EXPECT_EQ(Extractor("regex:#### (\\-?[0-9.,]+)").extract("so 5 + 67 = 72\n#### 72"), "72");
  EXPECT_EQ(Extractor("regex:[A-D]").extract("the answer: C, then B"), "C");  // first match
  EXPECT_EQ(Extractor("regex:[A-D]").extract("none"), std::nullopt);
  EXPECT_EQ(Extractor("regex:(x)?y").extract("y"), "y");  // a group that took no part: the match
  EXPECT_EQ(Extractor("exact").extract("  a dog \n"), "a dog");
  EXPECT_EQ(Extractor("last_number").extract("1 then 2"), "2");
  EXPECT_EQ(Extractor("boxed").extract("\\boxed{x}"), "x");
  EXPECT_THROW(Extractor("regex:("), Error);
  EXPECT_THROW(Extractor("regex:"), Error);
  EXPECT_THROW(Extractor("first_word"), Error);
}

TEST(Extract, NormalisationAndReferences) {
  EXPECT_EQ(normalize_answer("$1,000.50"), "1000.5");
  EXPECT_EQ(normalize_answer("3.0"), "3");
  EXPECT_EQ(normalize_answer("+7"), "7");
  EXPECT_EQ(normalize_answer("-0.0"), "0");
  EXPECT_EQ(normalize_answer("  a   domestic\tdog "), "a domestic dog");
  EXPECT_EQ(reference_answer("Natalia sold 48 clips.\n#### 72"), "72");
  EXPECT_EQ(reference_answer("so the answer is $\\boxed{5}$."), "5");
  EXPECT_EQ(reference_answer(" plain "), "plain");
  EXPECT_TRUE(answer_matches("1,000", {"7", "1000.00"}));
  EXPECT_FALSE(answer_matches("100", {"1000"}));
}

TEST(Report, JsonHasThePrimaryMetricFirst) {
  Report r;
  r.task = "t.jsonl";
  r.kind = "mc";
  r.metrics = {proportion_metric("accuracy", 8, 10), proportion_metric("acc_norm", 9, 10)};
  r.failures.push_back({3, "too long"});
  const auto j = report_json(r);
  EXPECT_EQ(j.begin().key(), "metric");  // printed first
  EXPECT_EQ(j["metric"], "accuracy");
  EXPECT_DOUBLE_EQ(j["value"].get<double>(), 0.8);
  EXPECT_EQ(j["n"], 10);
  EXPECT_NEAR(j["ci"][0].get<double>(), 0.490162, 1e-5);
  EXPECT_EQ(j["ci_method"], "wilson");
  EXPECT_EQ(j["metrics"].size(), 2u);
  EXPECT_EQ(j["failed"], 1);
  EXPECT_EQ(j["failures"][0]["line"], 3);
  const std::string md = report_markdown(r);
  EXPECT_NE(md.find("| t.jsonl | accuracy | 0.8000 | [0.4902, 0.9433] (wilson) | 10 |"), std::string::npos) << md;
}

TEST(Report, PassAtKOverProblems) {
  // Two problems, 4 samples each, 1 and 3 correct: pass@1 = (1/4 + 3/4)/2, pass@2 =
  // ((1 - C(3,2)/C(4,2)) + (1 - 0))/2 = (0.5 + 1)/2.
  std::vector<GenItem> items(2);
  std::vector<GenItemResult> res(2);
  res[0].correct = 1;
  res[1].correct = 3;
  GenOptions opt;
  opt.samples = 4;
  opt.ks = {1, 2};
  const Report r = gen_report("t", items, res, opt);
  ASSERT_EQ(r.metrics.size(), 2u);
  EXPECT_EQ(r.metrics[0].name, "pass@1");
  EXPECT_DOUBLE_EQ(r.metrics[0].value, 0.5);
  EXPECT_DOUBLE_EQ(r.metrics[1].value, 0.75);
  EXPECT_EQ(r.metrics[1].ci_method, "bootstrap");
  EXPECT_LE(r.metrics[1].ci.lo, 0.75);
  EXPECT_GE(r.metrics[1].ci.hi, 0.75);
}

TEST(Passkey, KeyDigitsMatchedInPlace) {
  EXPECT_EQ(key_digits_matched("12345", "12345"), 5);
  EXPECT_EQ(key_digits_matched("12345", "12045"), 4);
  EXPECT_EQ(key_digits_matched("12345", "2345"), 0);  // shifted: no digit in its place
  EXPECT_EQ(key_digits_matched("12345", "123"), 3);
  EXPECT_EQ(key_digits_matched("12345", "1234567"), 5);
  EXPECT_EQ(key_digits_matched("12345", ""), 0);
}

TEST(Progress, LineShowsCountElapsedAndEta) {
  EXPECT_EQ(Progress::line("gen", 5, 10, 10.0), "gen  5/10  10s elapsed  ETA 10s");
  EXPECT_EQ(Progress::line("mc", 1, 31, 5.0), "mc  1/31  5s elapsed  ETA 2m30s");
  EXPECT_EQ(Progress::line("mc", 0, 3, 0.0), "mc  0/3  0s elapsed  ETA ?");
  EXPECT_EQ(Progress::line("mc", 3, 3, 7.0), "mc  3/3  7s elapsed  ETA 0s");
}

}  // namespace
}  // namespace dsv3::eval
