// Constrained decoding of a call to one of several functions (tool_choice "required" with
// several tools). The prompt opens the call up to where the function's name goes; the output
// must then be one function's `head` (its name and the opening of its arguments, e.g.
// "get_weather\n```json\n"), then JSON arguments under that function's parameter schema, then
// fixed tokens (the call's closing). Once a head is complete the rest is a JsonConstraint of
// that function's grammar.
//
// A token chosen during the head lies wholly inside it (the arguments start at a token
// boundary, as they do after a prompt that names the function), so the head's mask is the
// tokens whose bytes continue some head from what has been chosen.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "infer/token_constraint.h"

namespace dsv3 {

struct ToolCallChoice {
  std::string head;                             // the name and the arguments' opening
  std::shared_ptr<const JsonGrammar> arguments;  // the parameters schema
};

class ToolCallConstraint : public TokenConstraint {
 public:
  // `then`: the tokens that must follow the arguments. Throws Error when no choice is given or
  // a head is empty or a prefix of another.
  ToolCallConstraint(std::vector<ToolCallChoice> choices, std::shared_ptr<const TokenTrie> trie,
                     std::vector<int32_t> then);
  void mask(float* logits, int64_t n) override;
  void advance(int32_t token) override;
  // allowed[id] = 1 for the tokens allowed next (ids < the trie's vocab size).
  void allowed(std::vector<uint8_t>& allowed) const;

 private:
  // Whether some head starts with what was chosen so far followed by the bytes b.
  bool continues(const std::string& b) const;

  std::vector<ToolCallChoice> choices_;
  std::shared_ptr<const TokenTrie> trie_;
  std::vector<int32_t> then_;
  std::string head_;                           // of the head, what was chosen so far
  std::unique_ptr<JsonConstraint> arguments_;  // once a head is complete
  std::vector<uint8_t> allowed_;
};

}  // namespace dsv3
