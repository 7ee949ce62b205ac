// Import of llama2.c checkpoints (karpathy/llama2.c, the format of the "tinyllamas" models:
// stories15M.bin, stories42M.bin, stories110M.bin) into a Hugging Face Llama folder, so dpo
// can be checked on real trained weights.
//
// The file ("version 0", written by export.py's legacy_export) is a header of 7 int32 (dim,
// hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len; a negative vocab_size means
// the classifier is not shared with the embeddings), then fp32 weights in this order: token
// embeddings [vocab, dim]; per-layer attention RMSNorm weights; wq, wk, wv, wo of every layer;
// per-layer FFN RMSNorm weights; w1, w2, w3 of every layer; the final RMSNorm weight; two
// unused RoPE tables [seq_len, head_size / 2]; the classifier [vocab, dim] when not shared.
// Matrices are stored [out, in] like nn.Linear.
//
// llama2.c applies rotary embeddings to interleaved pairs (2i, 2i+1), Meta's layout, while
// Hugging Face's Llama rotates halves (i, i + head_size/2). The rows of wq and wk are therefore
// permuted per head as transformers' convert_llama_weights_to_hf.py does (and export.py's
// hf_export): w.view(heads, head_size/2, 2, dim).transpose(1, 2).reshape(heads*head_size, dim).
#pragma once

#include <cstdint>
#include <string>

#include "model/model_config.h"

namespace dpo {

struct Llama2cImportOptions {
  std::string checkpoint;  // model.bin
  std::string tokenizer;   // tokenizer.model (sentencepiece) copied into the folder; may be empty
  std::string out;         // the Hugging Face folder to write
  bool overwrite = false;
};

// Writes the folder; returns its config. Throws CheckpointError for a malformed checkpoint
// (wrong size, newer export version, inconsistent header), ConfigError when the tokenizer has
// more tokens than the model.
ModelConfig import_llama2c(const Llama2cImportOptions& options);

}  // namespace dpo
