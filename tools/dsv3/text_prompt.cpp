#include "text_prompt.h"

#include <filesystem>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace dsv3::cli {

std::optional<Tokenizer> load_model_tokenizer(const std::string& model_dir) {
  if (std::filesystem::path(model_dir).extension() == ".gguf") return Tokenizer::load(model_dir);  // in its metadata
  if (!std::filesystem::exists(std::filesystem::path(model_dir) / "tokenizer.json")) return std::nullopt;
  return Tokenizer::load(model_dir);
}

std::vector<int32_t> prompt_tokens(const Args& a, const Tokenizer* tok) {
  if (a.has("chat") && !a.has("prompt")) fail("--chat needs --prompt");
  if (!a.has("prompt")) return parse_token_list(a.required("tokens"));
  if (a.has("tokens")) fail("give either --tokens or --prompt, not both");
  if (!tok) fail("--prompt: the model folder has no tokenizer.json");
  const std::string text = a.str("prompt");
  if (!a.has("chat")) return tok->encode_for_model(text);
  const nlohmann::json messages = nlohmann::json::array({{{"role", "user"}, {"content", text}}});
  // The template writes BOS itself, so the rendered text is encoded as it is.
  return tok->encode(tok->render_chat(messages, true));
}

}  // namespace dsv3::cli
