// Text prompts for the model commands: `--prompt TEXT` is encoded with the model folder's
// tokenizer (BOS as tokenizer_config.json asks), `--chat` first renders it as one user message
// through the chat template with the generation prompt. `--tokens` stays the id form.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cli_args.h"
#include "tokenizer/tokenizer.h"

namespace dsv3::cli {

// The options this adds to a command: valued {"prompt"}, flag {"chat"}.
inline const char* kPromptOptionsHelp =
    "  --prompt TEXT   encode TEXT with the model folder's tokenizer.json (instead of --tokens)\n"
    "  --chat          render --prompt as one user message through the chat template\n";

// The tokenizer of model_dir when it has a tokenizer.json.
std::optional<Tokenizer> load_model_tokenizer(const std::string& model_dir);

// The prompt's token ids from --prompt/--chat (needs `tok`) or --tokens.
std::vector<int32_t> prompt_tokens(const Args& a, const Tokenizer* tok);

}  // namespace dsv3::cli
