// Task files: the documented shapes are read (index or letter answers, GSM8K / MATH field
// names, lists of accepted answers), the kind is detected, and every malformed line is one
// Error naming FILE:LINE and what is wrong.
#include <gtest/gtest.h>

#include "core/error.h"
#include "eval/task_file.h"
#include "test_util.h"

namespace dsv3::eval {
namespace {

std::string write(const test::TempDir& dir, const std::string& name, const std::string& text) {
  test::write_text(dir.file(name), text);
  return dir.file(name);
}

// The Error of reading `text` as a task of `kind`, or "" when it reads.
std::string error_of(const std::string& text, bool mc) {
  test::TempDir dir;
  const std::string path = write(dir, "t.jsonl", text);
  try {
    if (mc) read_mc_task(path);
    else read_gen_task(path);
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;  // one line
    EXPECT_EQ(what.rfind(path, 0), 0u) << what;             // names the file first
    return what.substr(path.size());
  }
  return "";
}

TEST(TaskFile, ReadsMultipleChoice) {
  test::TempDir dir;
  const std::string p = write(dir, "mc.jsonl",
                              "{\"question\": \"dog:\", \"choices\": [\"a cat\", \"a canine\"], \"answer\": 1}\n\n"
                              "{\"question\": \"x\", \"choices\": [\"p\", \"q\", \"r\"], \"answer\": \"C\", \"subject\": \"extra fields are fine\"}\n");
  const auto items = read_mc_task(p);
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].line, 1);
  EXPECT_EQ(items[0].answer, 1);
  EXPECT_EQ(items[1].line, 3);
  EXPECT_EQ(items[1].answer, 2);
  EXPECT_EQ(items[1].choices[2], "r");
  EXPECT_EQ(detect_task_kind(p), TaskKind::kMultipleChoice);
}

TEST(TaskFile, ReadsGenerationInTheUsualShapes) {
  test::TempDir dir;
  const std::string p = write(dir, "gen.jsonl",
                              "{\"prompt\": \"2+2=\", \"answer\": 4}\n"
                              "{\"question\": \"Q\", \"answer\": \"Natalia sold 48.\\n#### 72\"}\n"
                              "{\"problem\": \"P\", \"solution\": \"so $\\\\boxed{5}$\"}\n"
                              "{\"prompt\": \"dog,\", \"answer\": [\"domestic dog\", \"Canis familiaris\"], \"stop\": [\":\"]}\n");
  const auto items = read_gen_task(p);
  ASSERT_EQ(items.size(), 4u);
  EXPECT_EQ(items[0].answers, std::vector<std::string>{"4"});
  EXPECT_EQ(items[1].prompt, "Q");
  EXPECT_EQ(items[1].answers, std::vector<std::string>{"72"});
  EXPECT_EQ(items[2].answers, std::vector<std::string>{"5"});
  EXPECT_EQ(items[3].answers.size(), 2u);
  EXPECT_EQ(items[3].stop, std::vector<std::string>{":"});
  EXPECT_EQ(detect_task_kind(p), TaskKind::kGeneration);
}

TEST(TaskFile, DetectsTextAsPerplexity) {
  test::TempDir dir;
  EXPECT_EQ(detect_task_kind(write(dir, "a.txt", "plain text")), TaskKind::kPerplexity);
  EXPECT_EQ(detect_task_kind(write(dir, "b.jsonl", "{\"text\": \"a document\"}\n")), TaskKind::kPerplexity);
  const TextTask t = read_text_task(dir.file("b.jsonl"));
  EXPECT_TRUE(t.jsonl);
  EXPECT_EQ(t.documents, std::vector<std::string>{"a document"});
  EXPECT_EQ(parse_task_kind("passkey"), TaskKind::kPasskey);
  EXPECT_THROW(parse_task_kind("qa"), Error);
}

TEST(TaskFile, MalformedLinesNameFileAndLine) {
  const std::string ok = "{\"question\": \"q\", \"choices\": [\"a\", \"b\"], \"answer\": 0}\n";
  EXPECT_EQ(error_of(ok, true), "");
  EXPECT_EQ(error_of(ok + "{\"question\": \"q\", \"choices\": [\"a\"", true).rfind(":2: not valid JSON", 0), 0u);
  EXPECT_EQ(error_of(ok + "[1, 2]\n", true), ":2: expected a JSON object");
  EXPECT_EQ(error_of(ok + ok + "{\"question\": \"q\", \"answer\": 0}\n", true), ":3: missing \"choices\"");
  EXPECT_EQ(error_of("{\"question\": \"q\", \"choices\": [], \"answer\": 0}\n", true), ":1: \"choices\" is empty");
  EXPECT_EQ(error_of("{\"question\": \"q\", \"choices\": [\"a\", 3], \"answer\": 0}\n", true),
            ":1: \"choices\" must be a list of strings");
  EXPECT_EQ(error_of("{\"question\": \"q\", \"choices\": [\"a\", \"b\"], \"answer\": 2}\n", true),
            ":1: \"answer\" 2 is out of range for 2 choices");
  EXPECT_EQ(error_of("{\"question\": \"q\", \"choices\": [\"a\", \"b\"], \"answer\": \"C\"}\n", true),
            ":1: \"answer\" \"C\" is out of range for 2 choices");
  EXPECT_EQ(error_of("{\"question\": \"q\", \"choices\": [\"a\", \"b\"], \"answer\": -1}\n", true),
            ":1: \"answer\" -1 is out of range for 2 choices");
  EXPECT_EQ(error_of("{\"question\": \"q\", \"choices\": [\"a\", \"b\"], \"answer\": \"b\"}\n", true),
            ":1: \"answer\" must be a choice index or a letter A-Z, got \"b\"");
  EXPECT_EQ(error_of("{\"question\": \"q\", \"choices\": [\"a\", \"b\"]}\n", true), ":1: missing \"answer\"");
  EXPECT_EQ(error_of("{\"choices\": [\"a\", \"b\"], \"answer\": 0}\n", true), ":1: missing \"question\"");
  EXPECT_EQ(error_of("{\"answer\": \"x\"}\n", false), ":1: missing \"prompt\"");
  EXPECT_EQ(error_of("{\"prompt\": \"p\"}\n", false), ":1: missing \"answer\"");
  EXPECT_EQ(error_of("{\"prompt\": \"p\", \"answer\": {\"a\": 1}}\n", false),
            ":1: \"answer\" must be a string, a number or a list of them");
  EXPECT_EQ(error_of("{\"prompt\": \"p\", \"answer\": \"a\", \"stop\": \"\\n\"}\n", false),
            ":1: \"stop\" must be a list of strings");
  EXPECT_EQ(error_of("\n  \n", false), ": the task file has no items");
}

TEST(TaskFile, MissingFileIsAnError) {
  EXPECT_THROW(read_mc_task("/nonexistent/t.jsonl"), Error);
}

}  // namespace
}  // namespace dsv3::eval
