// libFuzzer: any text read as an eval task file (multiple choice and generation) is items or
// one dsv3::Error naming a line — never a crash; any text as a model's output goes through
// every answer-extraction rule; any JSON as a passkey report is drawn or refused.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/error.h"
#include "eval/extract.h"
#include "eval/needle_svg.h"
#include "eval/task_file.h"
#include "io/json_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  for (bool mc : {true, false}) {
    try {
      if (mc) {
        for (const auto& it : dsv3::eval::parse_mc_task(text, "fuzz"))
          if (it.choices.empty() || it.answer < 0 || it.answer >= int64_t(it.choices.size())) std::abort();
      } else {
        for (const auto& it : dsv3::eval::parse_gen_task(text, "fuzz"))
          if (it.answers.empty() || it.prompt.empty()) std::abort();
      }
    } catch (const dsv3::Error& e) {
      if (std::string(e.what()).rfind("fuzz", 0) != 0) std::abort();  // errors name the file
    }
  }
  (void)dsv3::eval::last_number(text);
  (void)dsv3::eval::last_boxed(text);
  (void)dsv3::eval::normalize_answer(text);
  (void)dsv3::eval::reference_answer(text);
  try {
    (void)dsv3::eval::needle_svg(dsv3::parse_json_text(text, "fuzz"), "fuzz", "fuzz");
  } catch (const dsv3::Error&) {
  }
  return 0;
}
