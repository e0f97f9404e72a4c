// dsv3 chat driven through stdin on the model that ships with the repository.
#include <gtest/gtest.h>

#include <string>

#include "test_util.h"

namespace dsv3::test {
namespace {

const std::string kDefaultModel = data_path("../../models/default");

// Runs `dsv3 chat` with `input` on stdin.
RunResult chat(const std::string& options, const std::string& input) {
  TempDir tmp;
  write_text(tmp.file("in"), input);
  return run_dsv3("chat --model " + kDefaultModel + " --threads 1 " + options + " <" + tmp.file("in"));
}

TEST(CliChat, FirstGreedyReplyIsGenerateChat) {
  const RunResult c = chat("--max-new-tokens 24", "dog:\n");
  ASSERT_EQ(c.exit_code, 0) << c.err;
  const RunResult g = run_dsv3("generate --model " + kDefaultModel +
                               " --threads 1 --chat --prompt 'dog:' --max-new-tokens 24 --temperature 0");
  ASSERT_EQ(g.exit_code, 0) << g.err;
  EXPECT_EQ(c.out, g.out);
  EXPECT_NE(c.err.find("generated tokens"), std::string::npos) << c.err;
  EXPECT_NE(c.err.find("tok/s"), std::string::npos) << c.err;
}

TEST(CliChat, ResetForgetsTheConversationAndExitStops) {
  const RunResult c = chat("--max-new-tokens 16", "river:\nwhat else?\n/reset\nriver:\n/exit\nafter exit\n");
  ASSERT_EQ(c.exit_code, 0) << c.err;
  // Lines: reply 1, reply 2, "(conversation reset)", reply 3; nothing after /exit.
  std::vector<std::string> lines;
  for (size_t p = 0, q; (q = c.out.find('\n', p)) != std::string::npos; p = q + 1) lines.push_back(c.out.substr(p, q - p));
  ASSERT_EQ(lines.size(), 4u) << c.out;
  EXPECT_EQ(lines[2], "(conversation reset)");
  EXPECT_EQ(lines[0], lines[3]);  // greedy: the same question in a fresh conversation, the same reply
  size_t replies = 0;
  for (size_t p = 0; (p = c.err.find("generated tokens", p)) != std::string::npos; ++p) ++replies;
  EXPECT_EQ(replies, 3u) << c.err;
}

TEST(CliChat, SpeculativeGreedyRepliesAreThePlainOnes) {
  const std::string input = "to laugh:\nand to cry?\n";
  const RunResult plain = chat("--max-new-tokens 20", input);
  const RunResult spec = chat("--max-new-tokens 20 --speculative mtp --draft 2", input);
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  ASSERT_EQ(spec.exit_code, 0) << spec.err;
  EXPECT_EQ(plain.out, spec.out);
  EXPECT_NE(spec.err.find("MTP acceptance"), std::string::npos) << spec.err;
}

TEST(CliChat, SystemPromptChangesTheRendering) {
  const RunResult a = chat("--max-new-tokens 12", "dog:\n");
  const RunResult b = chat("--max-new-tokens 12 --system 'You define words.'", "dog:\n");
  ASSERT_EQ(b.exit_code, 0) << b.err;
  // 1 more prompt token at least: the system text is in front of the user turn.
  const auto prompt_tokens = [](const std::string& err) { return std::stoll(err.substr(err.find('[') + 1)); };
  EXPECT_GT(prompt_tokens(b.err), prompt_tokens(a.err) + 2) << a.err << b.err;
}

TEST(CliChat, TurnsOverTheContextAreRefusedAndTheChatGoesOn) {
  const RunResult c = chat("--max-new-tokens 1020", "a b c d e f g h i j k l m n o p\ndog:\n");
  ASSERT_EQ(c.exit_code, 0) << c.err;
  EXPECT_NE(c.err.find("exceeds the context of 1024"), std::string::npos) << c.err;
}

TEST(CliChat, InvalidUtf8TurnIsReportedAndSkipped) {
  const RunResult c = chat("--max-new-tokens 4", "bad \xff\xfe text\ndog:\n");
  ASSERT_EQ(c.exit_code, 0) << c.err;
  EXPECT_NE(c.err.find("error:"), std::string::npos) << c.err;
  EXPECT_NE(c.err.find("generated tokens"), std::string::npos) << c.err;
}

TEST(CliChat, ModelWithoutTokenizerIsAClearError) {
  const RunResult r = run_dsv3("chat --model " + model_path("v3-tiny") + " </dev/null");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("tokenizer.json"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;  // one line
}

}  // namespace
}  // namespace dsv3::test
