// The pre-tokenizer: a Sequence of Split steps (each regex splits every piece the previous step
// produced) and a final ByteLevel step, as the reference applies them. BPE then runs on each
// piece's bytes; the ByteLevel alphabet itself is only a storage format (see byte_level.h).
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "tokenizer/regex.h"

namespace dsv3 {

class PreTokenizer {
 public:
  enum class Behavior { kIsolated, kRemoved };

  // Adds the steps of a tokenizer.json "pre_tokenizer" (null, Sequence, Split, ByteLevel);
  // anything else is an Error naming it.
  void add_from_json(const nlohmann::json& pre_tokenizer, const std::string& what);

  // Split: with invert, only the matches are kept (the reference's `text.match`); otherwise the
  // text is cut at the matches, which are kept (kIsolated) or dropped (kRemoved).
  void add_split(const std::string& pattern, Behavior behavior, bool invert, const std::string& what);
  // ByteLevel: its GPT-2 regex when use_regex; add_prefix_space puts a space before each piece
  // that does not start with one. It has to be the last step.
  void add_byte_level(bool add_prefix_space, bool use_regex);

  // Calls on_piece(piece) for each piece of `text` in order. A piece is a view of `text`, or
  // of a temporary (prefixed with a space) that lives until on_piece returns.
  template <typename F>
  void split(std::string_view text, F&& on_piece) const {
    run(0, text, on_piece);
  }

 private:
  struct Step {
    Regex regex;
    Behavior behavior;
    bool invert;
  };

  template <typename F>
  void run(size_t k, std::string_view piece, F& on_piece) const {
    if (piece.empty()) return;
    if (k == steps_.size()) {
      byte_level(piece, on_piece);
      return;
    }
    const Step& s = steps_[k];
    size_t prev = 0;
    s.regex.for_each_match(piece, [&](size_t b, size_t e) {
      if (!s.invert && b > prev) run(k + 1, piece.substr(prev, b - prev), on_piece);
      if (s.invert || s.behavior == Behavior::kIsolated) run(k + 1, piece.substr(b, e - b), on_piece);
      prev = e;
    });
    if (!s.invert && prev < piece.size()) run(k + 1, piece.substr(prev), on_piece);
  }

  // The reference's ByteLevel step: prefix the space first, then split with its regex.
  template <typename F>
  void byte_level(std::string_view piece, F& on_piece) const {
    std::string prefixed;
    if (add_prefix_space_ && piece.front() != ' ') {
      prefixed.reserve(piece.size() + 1);
      prefixed += ' ';
      prefixed += piece;
      piece = prefixed;
    }
    if (!gpt2_split_) {
      on_piece(piece);
      return;
    }
    gpt2_split_->for_each_match(piece, [&](size_t b, size_t e) { on_piece(piece.substr(b, e - b)); });
  }

  std::vector<Step> steps_;
  std::unique_ptr<Regex> gpt2_split_;  // ByteLevel with use_regex
  bool add_prefix_space_ = false, sealed_ = false;
};

}  // namespace dsv3
