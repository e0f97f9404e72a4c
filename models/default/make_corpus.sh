#!/bin/sh
# The default model's corpus: the glosses of WordNet 3.0 (Debian package wordnet-base, WordNet 3.0
# license: use, copy, modify and distribute for any purpose, keeping the notice). One synset per
# line: "word, other word: definition; "example sentence"".
#   usage: make_corpus.sh [WORDNET_DIR] > corpus.txt
set -eu
dir=${1:-/usr/share/wordnet}
for pos in noun verb adj adv; do
  LC_ALL=C awk '
    function hex(s,   i, v, c) { v = 0; for (i = 1; i <= length(s); i++) { c = index("0123456789abcdef", tolower(substr(s, i, 1))) - 1; v = v * 16 + c } return v }
    /^  / { next }
    {
      bar = index($0, " | "); if (!bar) next
      gloss = substr($0, bar + 3); sub(/[ \t]+$/, "", gloss)
      n = hex($4); words = ""
      for (i = 0; i < n; i++) {
        w = $(5 + 2 * i); gsub("_", " ", w); sub(/\([a-z]+\)$/, "", w)
        words = words (i ? ", " : "") w
      }
      print words ": " gloss
    }' "$dir/data.$pos"
done
