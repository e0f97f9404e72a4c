// dsv3 tokenize / detokenize / chat-template: the tokenizer of a model folder on the command line.
#include <cstdio>
#include <fstream>
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli_args.h"
#include "commands.h"
#include "core/error.h"
#include "model_path.h"
#include "tokenizer/tokenizer.h"

namespace dsv3::cli {

namespace {

const char* kTokenizeUsage =
    "usage: dsv3 tokenize [--tokenizer DIR] (--text TEXT | --jsonl FILE) [--add-bos] [--threads N]\n"
    "  --text TEXT    print {\"ids\": [...]} for TEXT\n"
    "  --jsonl FILE   read lines {\"text\": ...} (FILE - is stdin); print one {\"ids\": [...]} line per\n"
    "                 input line, in order (blank lines are skipped)\n"
    "  --add-bos      insert BOS/EOS as tokenizer_config.json asks (default: ids of the text only)\n"
    "DIR holds tokenizer.json (+ tokenizer_config.json); default: --model, $DSV3_MODEL, models/default.\n";

const char* kDetokenizeUsage =
    "usage: dsv3 detokenize [--tokenizer DIR] --ids 1,2,3 [--skip-special]\n"
    "Prints the decoded text exactly (no newline added).\n";

const char* kChatUsage =
    "usage: dsv3 chat-template [--tokenizer DIR] --messages FILE [--add-generation-prompt] [--ids]\n"
    "FILE (- is stdin) holds a JSON array of messages {role, content, tool_calls}; prints the\n"
    "rendered conversation exactly (no newline added), or {\"ids\": [...]} with --ids.\n";

std::string tokenizer_dir(const Args& a) {
  if (a.has("tokenizer")) return a.str("tokenizer");
  return resolve_model_dir(a.str("model"));
}

void print_ids(const std::vector<int32_t>& ids, std::string& out) {
  out += "{\"ids\": [";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(ids[i]);
  }
  out += "]}\n";
}

std::string text_of_line(const std::string& line, size_t line_no) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(line);
  } catch (const nlohmann::json::exception& e) {
    fail("line ", line_no, ": not valid JSON (", e.what(), ")");
  }
  if (!j.is_object() || !j.contains("text") || !j["text"].is_string()) fail("line ", line_no, ": expected {\"text\": \"...\"}");
  return j["text"].get<std::string>();
}

// Encodes the file in blocks of lines on all threads, printing each block in order.
void tokenize_jsonl(const Tokenizer& tok, const std::string& path, bool add_bos) {
  std::ifstream file;
  if (path != "-") {
    file.open(path, std::ios::binary);
    if (!file) fail(path, ": cannot open");
  }
  std::istream& in = path == "-" ? std::cin : file;
  constexpr size_t kBlock = 4096;
  std::vector<std::string> texts;
  std::string line, out;
  size_t line_no = 0;
  auto flush = [&] {
    std::vector<std::vector<int32_t>> ids;
    if (add_bos) {
      for (const auto& t : texts) ids.push_back(tok.encode_for_model(t));
    } else {
      ids = tok.encode_batch(texts);
    }
    out.clear();
    for (const auto& v : ids) print_ids(v, out);
    std::fwrite(out.data(), 1, out.size(), stdout);
    texts.clear();
  };
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;  // blank lines hold no record
    texts.push_back(text_of_line(line, line_no));
    if (texts.size() == kBlock) flush();
  }
  flush();
}

}  // namespace

int cmd_tokenize(int argc, char** argv) {
  const Args a(argc, argv, {"tokenizer", "model", "text", "jsonl", "threads"}, {"add-bos", "help"});
  if (a.has("help")) return std::fputs(kTokenizeUsage, stdout), 0;
  apply_threads(a);
  if (a.has("text") == a.has("jsonl")) fail("give one of --text or --jsonl");
  const Tokenizer tok = Tokenizer::load(tokenizer_dir(a));
  if (a.has("jsonl")) {
    tokenize_jsonl(tok, a.str("jsonl"), a.has("add-bos"));
  } else {
    const std::string text = a.str("text");
    std::string out;
    print_ids(a.has("add-bos") ? tok.encode_for_model(text) : tok.encode(text), out);
    std::fwrite(out.data(), 1, out.size(), stdout);
  }
  return 0;
}

int cmd_detokenize(int argc, char** argv) {
  const Args a(argc, argv, {"tokenizer", "model", "ids"}, {"skip-special", "help"});
  if (a.has("help")) return std::fputs(kDetokenizeUsage, stdout), 0;
  const std::vector<int32_t> ids = parse_token_list(a.required("ids"));
  const Tokenizer tok = Tokenizer::load(tokenizer_dir(a));
  const std::string text = tok.decode(ids, a.has("skip-special"));
  std::fwrite(text.data(), 1, text.size(), stdout);
  return 0;
}

int cmd_chat_template(int argc, char** argv) {
  const Args a(argc, argv, {"tokenizer", "model", "messages"}, {"add-generation-prompt", "ids", "help"});
  if (a.has("help")) return std::fputs(kChatUsage, stdout), 0;
  const std::string path = a.required("messages");
  std::string text;
  if (path == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), {});
  } else {
    std::ifstream in(path, std::ios::binary);
    if (!in) fail(path, ": cannot open");
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  nlohmann::json messages;
  try {
    messages = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    fail(path, ": not valid JSON (", e.what(), ")");
  }
  const Tokenizer tok = Tokenizer::load(tokenizer_dir(a));
  const std::string rendered = tok.render_chat(messages, a.has("add-generation-prompt"));
  std::string out = rendered;
  if (a.has("ids")) {
    out.clear();
    print_ids(tok.encode(rendered), out);
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

}  // namespace dsv3::cli
