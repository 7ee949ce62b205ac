// The tiny world of the in-process training suites (trainer_tests, gpu_tests): a pairs file, a
// 512-piece sentencepiece tokenizer trained on it with the ChatML markers, a 2-layer Llama
// (testing::tiny_model_config_json) with the ChatML template, and the pairs prepared for it.
// Header-only like trainer_fixture.h; only suites that link the trainer and the pipeline include
// it.
#pragma once

#include <ATen/Parallel.h>

#include <string>

#include "dataloader/prepare.h"
#include "dataloader/tokenizer_training.h"
#include "pipeline/model_factory.h"
#include "tests/support/test_support.h"
#include "tests/trainer/trainer_fixture.h"

namespace dpo::testing {

struct TinyWorld {
  TempDir dir;
  std::string pairs_path, tokenizer_path, model_dir, prepared_path;
  std::string model_hash;
  size_t train_pairs = 0, val_pairs = 0;
};

constexpr int kTinyWorldVocab = 512;  // byte fallback alone takes 256 pieces

// Builds `w` in its folder from `pairs_jsonl`, holding out `val_fraction` of the prompts. One
// intra-op thread for the whole process: deterministic, and no contention on a busy machine.
inline void build_tiny_world(TinyWorld& w, const std::string& pairs_jsonl, double val_fraction) {
  at::set_num_threads(1);
  w.pairs_path = w.dir.file("pairs.jsonl");
  write_file(w.pairs_path, pairs_jsonl);

  TokenizerTrainingOptions tokenizer;
  tokenizer.vocab_size = kTinyWorldVocab;
  tokenizer.user_symbols = chatml_markers();
  w.tokenizer_path =
      train_tokenizer_on_pairs({w.pairs_path}, w.dir.file("tokenizer"), tokenizer).model_path;

  write_file(w.dir.file("shape.json"), tiny_model_config_json(kTinyWorldVocab));
  InitModelOptions model;
  model.config_path = w.dir.file("shape.json");
  model.tokenizer_path = w.tokenizer_path;
  model.template_spec = "chatml";
  model.added_special_tokens = chatml_markers();
  model.eos_token = "<|im_end|>";
  model.out_dir = w.dir.file("model");
  model.seed = 1;
  w.model_hash = init_model_folder(model).content_hash;
  w.model_dir = model.out_dir;

  PrepareOptions prepare;
  prepare.files = {w.pairs_path};
  prepare.max_length = 128;
  prepare.validate.val_fraction = val_fraction;
  prepare.threads = 1;
  prepare.model_dir = w.model_dir;
  prepare.out_path = w.dir.file("prepared.h5");
  PrepareResult prepared = prepare_dataset(prepare);
  w.prepared_path = prepare.out_path;
  w.train_pairs = prepared.train_pairs;
  w.val_pairs = prepared.val_pairs;
}

}  // namespace dpo::testing
