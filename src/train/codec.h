// Tokenizers for the data pipeline (data.h's TextCodec).
#pragma once
#include "train/data.h"

namespace dsv3 {

// A byte-level stand-in with no merges: ids 0..255 are the bytes, 256 is eos, 257..259 are
// <｜fim▁begin｜>, <｜fim▁hole｜>, <｜fim▁end｜> (vocab_size 260). Chats render as plain text,
// "\x02" then "\nUser: ..." and "\nAssistant: ...\x04" per message. For tests and toy models.
constexpr int32_t kByteCodecVocab = 260;
TextCodec byte_codec();

}  // namespace dsv3
