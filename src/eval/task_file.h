// Task files of dsv3 eval: JSON Lines, one item per line (blank lines skipped), in the shapes
// the usual files already have (docs/evaluation.md):
//   multiple choice  {"question": "...", "choices": ["...", ...], "answer": 2 | "C"}   (MMLU)
//   generation       {"prompt": "...", "answer": "..."}; "question" (GSM8K) or "problem"
//                    (MATH) may stand for "prompt", "solution" (MATH) for "answer"; the answer
//                    may be a number or a list of accepted answers; optional "stop": [...]
// A line that is not JSON or misses a field is an Error "FILE:LINE: what is wrong".
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace dsv3::eval {

enum class TaskKind { kPerplexity, kMultipleChoice, kGeneration, kPasskey };
TaskKind parse_task_kind(const std::string& s);  // ppl, mc, gen, passkey
const char* task_kind_name(TaskKind k);
// .txt (or any non-JSONL) -> ppl; JSONL whose first item has "choices" -> mc, else gen.
TaskKind detect_task_kind(const std::string& path);

struct McItem {
  int64_t line = 0;
  std::string question;
  std::vector<std::string> choices;
  int64_t answer = 0;  // index into choices
};

struct GenItem {
  int64_t line = 0;
  std::string prompt;
  std::vector<std::string> answers;  // accepted references, as reference_answer() reads them
  std::vector<std::string> stop;     // stop strings of this item (besides the run's)
};

std::vector<McItem> read_mc_task(const std::string& path);
std::vector<GenItem> read_gen_task(const std::string& path);
// The same from the file's text; `path` names it in errors.
std::vector<McItem> parse_mc_task(const std::string& text, const std::string& path);
std::vector<GenItem> parse_gen_task(const std::string& text, const std::string& path);
std::string read_task_text(const std::string& path);

// For ppl tasks: a .jsonl file's "text" fields as documents, else the file's text.
struct TextTask {
  std::vector<std::string> documents;  // from JSONL: each followed by EOS
  std::string text;                    // otherwise
  bool jsonl = false;
};
TextTask read_text_task(const std::string& path);

}  // namespace dsv3::eval
