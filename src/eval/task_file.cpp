#include "eval/task_file.h"

#include <cctype>
#include <fstream>
#include <functional>
#include <sstream>

#include "core/error.h"
#include "eval/extract.h"
#include "io/json_file.h"

namespace dsv3::eval {

namespace {

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

std::ifstream open_task(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail(path, ": cannot open the task file");
  return f;
}

// Calls item(json, "FILE:LINE") for each non-blank line of `in`; errors name FILE:LINE.
void for_each_line(std::istream& f, const std::string& path, const std::function<void(const json&, const std::string& where)>& item) {
  int64_t n = 0, items = 0;
  for (std::string line; std::getline(f, line);) {
    ++n;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = cat(path, ":", n);
    json j;
    try {
      j = json::parse(line);
    } catch (const json::exception& e) {
      fail(where, ": not valid JSON (", e.what(), ")");
    }
    if (!j.is_object()) fail(where, ": expected a JSON object");
    item(j, where);
    ++items;
  }
  if (items == 0) fail(path, ": the task file has no items");
}

const json* field(const json& j, std::initializer_list<const char*> names) {
  for (const char* k : names)
    if (j.contains(k) && !j[k].is_null()) return &j[k];
  return nullptr;
}

std::string text_field(const json& j, std::initializer_list<const char*> names, const std::string& where) {
  const json* v = field(j, names);
  if (!v) fail(where, ": missing \"", *names.begin(), "\"");
  if (!v->is_string()) fail(where, ": \"", *names.begin(), "\" must be a string");
  return v->get<std::string>();
}

int64_t line_of(const std::string& where) { return std::stoll(where.substr(where.rfind(':') + 1)); }

int64_t answer_index(const json& a, size_t n_choices, const std::string& where) {
  int64_t i = -1;
  if (a.is_number_integer()) {
    i = a.get<int64_t>();
  } else if (a.is_string() && a.get<std::string>().size() == 1 && std::isupper(uint8_t(a.get<std::string>()[0]))) {
    i = a.get<std::string>()[0] - 'A';
  } else {
    fail(where, ": \"answer\" must be a choice index or a letter A-Z, got ", a.dump());
  }
  if (i < 0 || i >= int64_t(n_choices))
    fail(where, ": \"answer\" ", a.dump(), " is out of range for ", n_choices, " choices");
  return i;
}

std::string answer_text(const json& a, const std::string& where) {
  if (a.is_string()) return a.get<std::string>();
  if (a.is_number()) return a.dump();
  fail(where, ": \"answer\" must be a string, a number or a list of them");
}

}  // namespace

TaskKind parse_task_kind(const std::string& s) {
  if (s == "ppl") return TaskKind::kPerplexity;
  if (s == "mc") return TaskKind::kMultipleChoice;
  if (s == "gen") return TaskKind::kGeneration;
  if (s == "passkey") return TaskKind::kPasskey;
  fail("--kind must be ppl, mc, gen or passkey, got '", s, "'");
}

const char* task_kind_name(TaskKind k) {
  switch (k) {
    case TaskKind::kPerplexity: return "ppl";
    case TaskKind::kMultipleChoice: return "mc";
    case TaskKind::kGeneration: return "gen";
    case TaskKind::kPasskey: return "passkey";
  }
  return "?";
}

TaskKind detect_task_kind(const std::string& path) {
  if (!ends_with(path, ".jsonl") && !ends_with(path, ".json")) return TaskKind::kPerplexity;
  std::ifstream f = open_task(path);
  int64_t n = 0;
  for (std::string line; std::getline(f, line);) {
    ++n;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const json j = json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) fail(path, ":", n, ": not a JSON object (give --kind, or fix the line)");
    if (j.contains("choices")) return TaskKind::kMultipleChoice;
    if (j.contains("text") && !field(j, {"prompt", "question", "problem"})) return TaskKind::kPerplexity;
    return TaskKind::kGeneration;
  }
  fail(path, ": the task file has no items");
}

std::vector<McItem> parse_mc_task(const std::string& text, const std::string& path) {
  std::istringstream in(text);
  std::vector<McItem> out;
  for_each_line(in, path, [&](const json& j, const std::string& where) {
    McItem it;
    it.line = line_of(where);
    it.question = text_field(j, {"question", "prompt"}, where);
    const json* c = field(j, {"choices"});
    if (!c) fail(where, ": missing \"choices\"");
    if (!c->is_array()) fail(where, ": \"choices\" must be a list of strings");
    if (c->empty()) fail(where, ": \"choices\" is empty");
    for (const json& ch : *c) {
      if (!ch.is_string()) fail(where, ": \"choices\" must be a list of strings");
      if (ch.get<std::string>().empty()) fail(where, ": a choice is the empty string");
      it.choices.push_back(ch.get<std::string>());
    }
    const json* a = field(j, {"answer"});
    if (!a) fail(where, ": missing \"answer\"");
    it.answer = answer_index(*a, it.choices.size(), where);
    out.push_back(std::move(it));
  });
  return out;
}

std::vector<GenItem> parse_gen_task(const std::string& text, const std::string& path) {
  std::istringstream in(text);
  std::vector<GenItem> out;
  for_each_line(in, path, [&](const json& j, const std::string& where) {
    GenItem it;
    it.line = line_of(where);
    it.prompt = text_field(j, {"prompt", "question", "problem"}, where);
    if (it.prompt.empty()) fail(where, ": the prompt is empty");
    const json* a = field(j, {"answer", "solution"});
    if (!a) fail(where, ": missing \"answer\"");
    if (a->is_array()) {
      if (a->empty()) fail(where, ": \"answer\" is an empty list");
      for (const json& x : *a) it.answers.push_back(reference_answer(answer_text(x, where)));
    } else {
      it.answers.push_back(reference_answer(answer_text(*a, where)));
    }
    if (const json* s = field(j, {"stop"})) {
      if (!s->is_array()) fail(where, ": \"stop\" must be a list of strings");
      for (const json& x : *s) {
        if (!x.is_string()) fail(where, ": \"stop\" must be a list of strings");
        it.stop.push_back(x.get<std::string>());
      }
    }
    out.push_back(std::move(it));
  });
  return out;
}

std::string read_task_text(const std::string& path) {
  std::ifstream f = open_task(path);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

std::vector<McItem> read_mc_task(const std::string& path) { return parse_mc_task(read_task_text(path), path); }
std::vector<GenItem> read_gen_task(const std::string& path) { return parse_gen_task(read_task_text(path), path); }

TextTask read_text_task(const std::string& path) {
  TextTask t;
  if (ends_with(path, ".jsonl")) {
    t.jsonl = true;
    std::ifstream f = open_task(path);
    for_each_line(f, path, [&](const json& j, const std::string& where) { t.documents.push_back(text_field(j, {"text"}, where)); });
    return t;
  }
  t.text = read_task_text(path);
  return t;
}

}  // namespace dsv3::eval
