// dsv3 plan and dsv3 plot --schedule/--trace from the command line.
#include <gtest/gtest.h>

#include <string>

#include "test_util.h"

namespace dsv3::test {
namespace {

const std::string kV3 = data_path("../../models/deepseek-v3/config.json");

TEST(CliPlan, DeepSeekV3OnTheReportsCluster) {
  const RunResult r = run_dsv3("plan --config " + kV3 + " --pp 16 --ep 64 --global-batch 15360");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("671.0 B parameters"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("rank 0: stage 0"), std::string::npos) << r.out;
  for (const char* s : {"dualpipe ", "1f1b ", "zb1p ", "dualpipev "}) EXPECT_NE(r.out.find(s), std::string::npos) << s;
}

TEST(CliPlan, BadSizesFailWithOneLine) {
  RunResult r = run_dsv3("plan --config " + kV3 + " --pp 6 --ep 8 --devices 48 --schedule dualpipe --micro-batches 15");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("even number of micro-batches"), std::string::npos) << r.err;
  r = run_dsv3("plan --config " + kV3 + " --pp 4 --ep 8 --devices 64 --stage-layers 20,20,21,0");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("stage 3 has 0 layers"), std::string::npos) << r.err;
}

TEST(CliPlot, DrawsAScheduleAndReadsTheTraceBack) {
  TempDir tmp;
  const RunResult r = run_dsv3("plot --schedule dualpipe --pp 4 --micro-batches 8 --out " + tmp.file("s.svg") +
                               " --trace-out " + tmp.file("s.json"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("mean"), std::string::npos) << r.out;
  EXPECT_NE(read_text(tmp.file("s.svg")).find("<svg"), std::string::npos);
  const RunResult back = run_dsv3("plot --trace " + tmp.file("s.json"));
  ASSERT_EQ(back.exit_code, 0) << back.err;
  EXPECT_EQ(back.out, r.out.substr(0, back.out.size()));  // same bubble table
  const RunResult check = run_dsv3("plot --trace " + tmp.file("s.json") + " --check");
  ASSERT_EQ(check.exit_code, 0) << check.err;
  // A noise-free trace re-simulated with its own costs: measured and simulated agree.
  EXPECT_NE(check.out.find("calibrated: F 1.000 ms, B 2.000 ms, W 1.000 ms, F&B 3.000 ms"), std::string::npos) << check.out;
  EXPECT_NE(check.out.find("mean       7.69         7.69         7.69        7.69"), std::string::npos) << check.out;  // (4/2-1)(3+2-3) of 26 ms
  const RunResult odd = run_dsv3("plot --schedule dualpipe --pp 3 --micro-batches 12");
  EXPECT_EQ(odd.exit_code, 1);
  EXPECT_NE(odd.err.find("even number of pipeline ranks"), std::string::npos) << odd.err;
}

}  // namespace
}  // namespace dsv3::test
