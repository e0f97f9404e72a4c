// Building the packed training and validation sets (pretraining and SFT).
#include <algorithm>

#include "core/error.h"
#include "io/json_file.h"
#include "train/data.h"

namespace dsv3 {

namespace {

bool char_start(const std::string& s, size_t i) { return i >= s.size() || (uint8_t(s[i]) & 0xC0) != 0x80; }

// A uniformly chosen character boundary of s in [0, size].
size_t random_boundary(const std::string& s, uint64_t r) {
  size_t i = size_t(r % (s.size() + 1));
  while (!char_start(s, i)) --i;
  return i;
}

// Cuts a stream of tokens (and mask) into sequences of T; the tail shorter than T is dropped.
void pack(const std::vector<int32_t>& stream, const std::vector<uint8_t>& mask, int64_t T, PackedSet& out) {
  out.T = T;
  const int64_t n = int64_t(stream.size()) / T;
  out.tokens.assign(stream.begin(), stream.begin() + n * T);
  if (!mask.empty()) out.mask.assign(mask.begin(), mask.begin() + n * T);
}

// Pieces to tokenize for one document: itself, or its FIM rearrangement.
struct DocPieces {
  std::vector<std::string> text;  // tokenized separately
  std::vector<int32_t> before;    // special token before each piece (-1: none)
};

DocPieces fim_pieces(const std::string& doc, uint64_t r, const TextCodec& c) {
  size_t a = random_boundary(doc, mix64(r + 1)), b = random_boundary(doc, mix64(r + 2));
  if (a > b) std::swap(a, b);
  return {{doc.substr(0, a), doc.substr(b), doc.substr(a, b - a)}, {c.fim_begin, c.fim_hole, c.fim_end}};
}

// Tokenizes documents (FIM applied with probability fim_rate) into one stream, eos after each.
std::vector<int32_t> tokenize_docs(const std::vector<std::string>& docs, const std::vector<int64_t>& order,
                                   double fim_rate, uint64_t seed, const TextCodec& codec, int64_t* fim_docs) {
  std::vector<DocPieces> pieces;
  std::vector<std::string> texts;
  for (int64_t d : order) {
    const uint64_t r = mix64(seed ^ mix64(uint64_t(d) * 0x9e37 + 0xf1));
    const bool fim = fim_rate > 0 && double(r >> 11) * 0x1.0p-53 < fim_rate;
    pieces.push_back(fim ? fim_pieces(docs[size_t(d)], r, codec) : DocPieces{{docs[size_t(d)]}, {-1}});
    *fim_docs += fim;
    for (const auto& t : pieces.back().text) texts.push_back(t);
  }
  const auto ids = codec.encode_batch(texts);
  std::vector<int32_t> stream;
  size_t k = 0;
  for (const DocPieces& p : pieces) {
    for (size_t i = 0; i < p.text.size(); ++i, ++k) {
      if (p.before[i] >= 0) stream.push_back(p.before[i]);
      stream.insert(stream.end(), ids[k].begin(), ids[k].end());
    }
    stream.push_back(codec.eos);
  }
  return stream;
}

// Documents (or conversations) split into held-out and training indices, both shuffled.
void split_indices(int64_t n, const DataOptions& opt, std::vector<int64_t>& train, std::vector<int64_t>& val) {
  const std::vector<int64_t> order = permutation(n, opt.seed);
  int64_t n_val = int64_t(double(n) * opt.val_fraction + 0.5);
  if (opt.val_fraction > 0 && n_val == 0 && n >= 2) n_val = 1;
  val.assign(order.begin(), order.begin() + n_val);
  train.assign(order.begin() + n_val, order.end());
}

void check_codec(const TextCodec& c, const DataOptions& opt) {
  if (!c.encode_batch) fail("data: no tokenizer");
  if (c.eos < 0) fail("data: the tokenizer has no eos token");
  if (!opt.sft && opt.fim_rate > 0 && (c.fim_begin < 0 || c.fim_hole < 0 || c.fim_end < 0))
    fail("data: FIM needs the tokenizer's <｜fim▁begin｜>, <｜fim▁hole｜> and <｜fim▁end｜> tokens (or --fim-rate 0)");
  if (opt.sft && !c.render_chat) fail("data: SFT needs the tokenizer's chat template");
  if (opt.seq_len < 3) fail("data: sequence length must be >= 3");
}

Dataset build_sft(const DataOptions& opt, const TextCodec& codec) {
  const std::vector<json> convs = read_conversations(opt.paths);
  std::vector<int64_t> train, val;
  split_indices(int64_t(convs.size()), opt, train, val);
  Dataset ds;
  for (int split = 0; split < 2; ++split) {
    std::vector<int32_t> stream, ids;
    std::vector<uint8_t> mask, m;
    for (int64_t i : split == 0 ? train : val) {
      render_conversation(convs[size_t(i)], codec, ids, m);
      stream.insert(stream.end(), ids.begin(), ids.end());
      mask.insert(mask.end(), m.begin(), m.end());
    }
    pack(stream, mask, opt.seq_len, split == 0 ? ds.train : ds.val);
    (split == 0 ? ds.train_tokens : ds.val_tokens) = int64_t(stream.size());
  }
  ds.train_docs = int64_t(train.size());
  ds.val_docs = int64_t(val.size());
  return ds;
}

}  // namespace

void render_conversation(const json& messages, const TextCodec& codec, std::vector<int32_t>& ids,
                         std::vector<uint8_t>& mask) {
  // Each assistant reply is the text the template adds for it: render(messages[..i], generation
  // prompt) is a prefix of render(messages[..i+1]); the difference is the reply.
  std::vector<std::string> pieces;
  std::vector<uint8_t> is_reply;
  std::string done;
  for (size_t i = 0; i < messages.size(); ++i) {
    if (!messages[i].is_object() || messages[i].value("role", "") != "assistant") continue;
    const json head(messages.begin(), messages.begin() + long(i)), upto(messages.begin(), messages.begin() + long(i + 1));
    const std::string p = codec.render_chat(head, true), f = codec.render_chat(upto, false);
    if (p.compare(0, done.size(), done) != 0 || f.compare(0, p.size(), p) != 0)
      fail("SFT: the chat template does not render conversations as prefixes of each other");
    pieces.push_back(p.substr(done.size()));
    is_reply.push_back(0);
    pieces.push_back(f.substr(p.size()));
    is_reply.push_back(1);
    done = f;
  }
  const std::string all = codec.render_chat(messages, false);
  if (all.compare(0, done.size(), done) != 0) fail("SFT: the chat template does not render conversations as prefixes");
  pieces.push_back(all.substr(done.size()));
  is_reply.push_back(0);
  const auto tok = codec.encode_batch(pieces);
  ids.clear();
  mask.clear();
  for (size_t i = 0; i < pieces.size(); ++i) {
    ids.insert(ids.end(), tok[i].begin(), tok[i].end());
    mask.insert(mask.end(), tok[i].size(), is_reply[i]);
  }
}

Dataset build_dataset(const DataOptions& opt, const TextCodec& codec) {
  check_codec(codec, opt);
  if (opt.sft) return build_sft(opt, codec);
  const std::vector<std::string> docs = read_documents(opt);
  std::vector<int64_t> train, val;
  split_indices(int64_t(docs.size()), opt, train, val);
  Dataset ds;
  ds.train_docs = int64_t(train.size());
  ds.val_docs = int64_t(val.size());
  const auto tr = tokenize_docs(docs, train, opt.fim_rate, opt.seed, codec, &ds.fim_docs);
  int64_t no_fim = 0;
  const auto va = tokenize_docs(docs, val, 0.0, opt.seed, codec, &no_fim);  // validation: plain text
  ds.train_tokens = int64_t(tr.size());
  ds.val_tokens = int64_t(va.size());
  pack(tr, {}, opt.seq_len, ds.train);
  pack(va, {}, opt.seq_len, ds.val);
  return ds;
}

}  // namespace dsv3
