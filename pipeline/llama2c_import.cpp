// llama2.c checkpoint -> Hugging Face Llama folder (see llama2c_import.h for the format).
#include "pipeline/llama2c_import.h"

#include <ATen/ATen.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/log.h"
#include "model/checkpoint.h"
#include "model/llama.h"
#include "tokenizer/sentencepiece_model.h"

namespace dpo {

namespace {

struct FileCloser {
  void operator()(FILE* f) const {
    std::fclose(f);
  }
};

// Meta's interleaved rotary layout -> Hugging Face's rotate-half layout, rows of one matrix.
at::Tensor permute_for_rotate_half(const at::Tensor& w, int64_t heads, int64_t head_size) {
  const int64_t in = w.size(1);
  return w.view({heads, head_size / 2, 2, in}).transpose(1, 2).reshape({heads * head_size, in});
}

}  // namespace

ModelConfig import_llama2c(const Llama2cImportOptions& options) {
  const std::string& path = options.checkpoint;
  std::unique_ptr<FILE, FileCloser> in(std::fopen(path.c_str(), "rb"));
  if (!in)
    throw IoError(errno_message("cannot open '" + path + "'", errno));
  // ftell is -1 for what cannot seek (a pipe, a directory): refused as too short below.
  std::fseek(in.get(), 0, SEEK_END);
  const int64_t file_size = std::ftell(in.get());
  std::fseek(in.get(), 0, SEEK_SET);

  int32_t header[7];
  if (file_size < static_cast<int64_t>(sizeof header) ||
      std::fread(header, sizeof header, 1, in.get()) != 1) {
    throw CheckpointError("'" + path + "' is too short for a llama2.c checkpoint header");
  }
  if (header[0] == 0x616b3432) {  // "ak42": export.py's version 1 and 2 formats
    throw CheckpointError(
        "'" + path + "' is a llama2.c checkpoint of export version 1 or 2",
        "export it with llama2.c's export.py --version 0 (the tinyllamas format)");
  }
  const int64_t dim = header[0], hidden = header[1], layers = header[2], heads = header[3],
                kv_heads = header[4], seq_len = header[6];
  const bool shared = header[5] > 0;
  const int64_t vocab = header[5] < 0 ? -static_cast<int64_t>(header[5]) : header[5];
  const std::string sizes = "dim " + std::to_string(dim) + ", hidden_dim " +
                            std::to_string(hidden) + ", n_layers " + std::to_string(layers) +
                            ", n_heads " + std::to_string(heads) + ", n_kv_heads " +
                            std::to_string(kv_heads) + ", vocab " + std::to_string(vocab) +
                            ", seq_len " + std::to_string(seq_len);
  const int64_t limit = int64_t{1} << 20;
  auto in_range = [&](int64_t v) { return v > 0 && v <= limit; };
  if (!in_range(dim) || !in_range(hidden) || !in_range(layers) || !in_range(heads) ||
      !in_range(kv_heads) || !in_range(vocab) || !in_range(seq_len) || dim % heads != 0 ||
      heads % kv_heads != 0 || (dim / heads) % 2 != 0) {
    throw CheckpointError(
        "'" + path + "' has an inconsistent llama2.c header (" + sizes + ")",
        "is this a llama2.c model.bin (export version 0)?");
  }
  const int64_t head_size = dim / heads, kv_dim = kv_heads * head_size;
  // Expected size, in floats: up to ~2^63 within the limits above, so computed in 128 bits
  // (a crafted header must not wrap around to the size of a small file).
  using Wide = __int128;
  const Wide floats = Wide{vocab} * dim +
                      Wide{layers} * (Wide{2} * dim + Wide{dim} * dim + Wide{2} * dim * kv_dim +
                                      Wide{dim} * dim + Wide{3} * dim * hidden) +
                      dim + Wide{seq_len} * head_size + (shared ? Wide{0} : Wide{vocab} * dim);
  const Wide expected = Wide{sizeof header} + 4 * floats;
  if (Wide{file_size} != expected) {
    const std::string needs = expected > Wide{INT64_MAX}
                                  ? "more than 2^63"
                                  : std::to_string(static_cast<int64_t>(expected));
    throw CheckpointError(
        "'" + path + "' has " + std::to_string(file_size) + " bytes, but its header (" + sizes +
            ") needs " + needs,
        "the file is truncated or not a llama2.c export version 0");
  }

  ModelConfig config;
  config.architecture = "LlamaForCausalLM";
  config.hidden_size = dim;
  config.intermediate_size = hidden;
  config.num_hidden_layers = layers;
  config.num_attention_heads = heads;
  config.num_key_value_heads = kv_heads;
  config.head_dim = head_size;
  config.vocab_size = vocab;
  config.rms_norm_eps = 1e-5;  // llama2.c's model.py and run.c
  config.rope_theta = 10000.0;
  config.max_position_embeddings = seq_len;
  config.tie_word_embeddings = shared;
  config.bos_token_id = 1;
  config.eos_token_ids = {2};
  config.torch_dtype = "float32";

  SaveOptions save;
  save.overwrite = options.overwrite;
  if (!options.tokenizer.empty()) {
    SentencePieceModel tokenizer(options.tokenizer);
    check_tokenizer_fits(config, tokenizer.vocab_size(), path);
    nlohmann::json tokenizer_config = {
        {"tokenizer_class", "LlamaTokenizer"},
        {"add_bos_token", true},
        {"add_eos_token", false},
        {"model_max_length", seq_len},
        {"clean_up_tokenization_spaces", false},
        {"legacy", true}};
    nlohmann::json special = nlohmann::json::object();
    if (tokenizer.bos_id() >= 0) {
      config.bos_token_id = tokenizer.bos_id();
      special["bos_token"] = tokenizer.id_to_piece(tokenizer.bos_id());
    }
    if (tokenizer.eos_id() >= 0) {
      config.eos_token_ids = {tokenizer.eos_id()};
      special["eos_token"] = tokenizer.id_to_piece(tokenizer.eos_id());
    }
    if (tokenizer.unk_id() >= 0)
      special["unk_token"] = tokenizer.id_to_piece(tokenizer.unk_id());
    tokenizer_config.update(special);
    nlohmann::json generation = {
        {"bos_token_id", *config.bos_token_id}, {"eos_token_id", config.eos_token_ids[0]}};
    save.copy_files["tokenizer.model"] = options.tokenizer;
    save.write_files["tokenizer_config.json"] = tokenizer_config.dump(2) + "\n";
    save.write_files["special_tokens_map.json"] = special.dump(2) + "\n";
    save.write_files["generation_config.json"] = generation.dump(2) + "\n";
  }

  LlamaForCausalLM model = allocate_model(config, at::TensorOptions().dtype(at::kFloat), path);
  auto read = [&](std::vector<int64_t> shape) {
    at::Tensor t = at::empty(shape, at::kFloat);
    if (std::fread(t.data_ptr(), 4, t.numel(), in.get()) != static_cast<size_t>(t.numel())) {
      throw CheckpointError("cannot read '" + path + "': file ended early");
    }
    return t;
  };
  auto layer = [&](int64_t i) { return model->model->layers[i]->as<LlamaDecoderLayerImpl>(); };
  at::NoGradGuard no_grad;
  model->model->embed_tokens->weight.copy_(read({vocab, dim}));
  for (int64_t i = 0; i < layers; ++i)
    layer(i)->input_layernorm->weight.copy_(read({dim}));
  for (int64_t i = 0; i < layers; ++i) {
    layer(i)->self_attn->q_proj->weight.copy_(
        permute_for_rotate_half(read({dim, dim}), heads, head_size));
  }
  for (int64_t i = 0; i < layers; ++i) {
    layer(i)->self_attn->k_proj->weight.copy_(
        permute_for_rotate_half(read({kv_dim, dim}), kv_heads, head_size));
  }
  for (int64_t i = 0; i < layers; ++i)
    layer(i)->self_attn->v_proj->weight.copy_(read({kv_dim, dim}));
  for (int64_t i = 0; i < layers; ++i)
    layer(i)->self_attn->o_proj->weight.copy_(read({dim, dim}));
  for (int64_t i = 0; i < layers; ++i)
    layer(i)->post_attention_layernorm->weight.copy_(read({dim}));
  for (int64_t i = 0; i < layers; ++i)
    layer(i)->mlp->gate_proj->weight.copy_(read({hidden, dim}));
  for (int64_t i = 0; i < layers; ++i)
    layer(i)->mlp->down_proj->weight.copy_(read({dim, hidden}));
  for (int64_t i = 0; i < layers; ++i)
    layer(i)->mlp->up_proj->weight.copy_(read({hidden, dim}));
  model->model->norm->weight.copy_(read({dim}));
  read({seq_len, head_size});  // freq_cis_real and freq_cis_imag, each [seq_len, head_size / 2]
  if (!shared)
    model->lm_head->weight.copy_(read({vocab, dim}));

  save_pretrained(*model, options.out, save);
  DPO_LOG_INFO(
      "import",
      "wrote %s: llama2.c %s (%lld parameters)",
      options.out.c_str(),
      sizes.c_str(),
      static_cast<long long>(config.num_parameters()));
  return config;
}

}  // namespace dpo
