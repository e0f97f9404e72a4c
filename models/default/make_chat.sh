#!/bin/sh
# The default model's chat (SFT) data, from the WordNet corpus of make_corpus.sh: every synset
# becomes a conversation in which the user asks what a word means and the assistant answers
# with its gloss (and its synonyms); every fifth one has a second turn about the next synset.
#   usage: make_chat.sh CORPUS.txt > chat.jsonl
set -eu
LC_ALL=C awk '
  function esc(s) { gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s); gsub(/\t/, " ", s); return s }
  function question(w, i) {
    i = NR % 5
    if (i == 0) return "What does \"" w "\" mean?"
    if (i == 1) return "Define " w "."
    if (i == 2) return "What is the meaning of " w "?"
    if (i == 3) return w "?"
    return "Can you explain the word " w "?"
  }
  function answer(words, gloss,   n, parts, i, syn) {
    n = split(words, parts, ", "); syn = ""
    for (i = 2; i <= n; i++) syn = syn (i > 2 ? ", " : "") parts[i]
    return parts[1] ": " gloss (syn == "" ? "" : " (also: " syn ")")
  }
  function turn(line,   c, words, gloss, w) {
    c = index(line, ": "); words = substr(line, 1, c - 1); gloss = substr(line, c + 2)
    w = words; sub(/, .*/, "", w)
    return "{\"role\": \"user\", \"content\": \"" esc(question(w)) "\"}, {\"role\": \"assistant\", \"content\": \"" esc(answer(words, gloss)) "\"}"
  }
  index($0, ": ") == 0 { next }
  {
    if (pending != "") { print "{\"messages\": [" pending ", " turn($0) "]}"; pending = ""; next }
    if (NR % 5 == 0) { pending = turn($0); next }
    print "{\"messages\": [" turn($0) "]}"
  }
  END { if (pending != "") print "{\"messages\": [" pending "]}" }
' "$1"
