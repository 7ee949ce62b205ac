// Hugging Face folders: save then load, shards, dtype conversion, tokenizer files, checks
// against the config, random init and the content hash.
#include "model/checkpoint.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <sys/resource.h>

#include <cstdlib>
#include <filesystem>

#include "core/error.h"
#include "model/safetensors.h"
#include "tests/model/model_test_util.h"
#include "tests/support/test_support.h"

namespace dpo {
namespace {

using testing::make_test_model;
using testing::TempDir;
using testing::test_config;

void expect_same_tensors(LlamaForCausalLMImpl& a, LlamaForCausalLMImpl& b) {
  auto sa = model_state(a), sb = model_state(b);
  ASSERT_EQ(sa.size(), sb.size());
  for (size_t i = 0; i < sa.size(); ++i) {
    EXPECT_EQ(sa[i].first, sb[i].first);
    EXPECT_EQ(sa[i].second.scalar_type(), sb[i].second.scalar_type());
    EXPECT_TRUE(at::equal(sa[i].second, sb[i].second)) << sa[i].first;
  }
}

// Saves a test model into dir/name and returns the folder.
std::string saved_model(
    const TempDir& dir, const ModelConfig& c, const std::string& name = "model") {
  LlamaForCausalLM model = make_test_model(c);
  save_pretrained(*model, dir.file(name));
  return dir.file(name);
}

// The process's mapped address space (VmSize), for an RLIMIT_AS a little above it.
uint64_t virtual_memory_bytes() {
  std::string status = testing::read_file("/proc/self/status");
  size_t at = status.find("VmSize:");
  return at == std::string::npos ? 0 : std::stoull(status.substr(at + 7)) * 1024;
}

// Expects load_pretrained(folder) to throw a CheckpointError mentioning `fragment`.
void expect_load_error(const std::string& folder, const std::string& fragment) {
  try {
    load_pretrained(folder, at::kFloat, at::kCPU);
    ADD_FAILURE() << "loaded a bad checkpoint; expected: " << fragment;
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(Checkpoint, SaveThenLoadGivesIdenticalTensors) {
  TempDir dir;
  for (bool tie : {false, true}) {
    ModelConfig c = test_config(4, 2, tie);
    LlamaForCausalLM model = make_test_model(c);
    const std::string folder = dir.file(tie ? "tied" : "separate");
    save_pretrained(*model, folder);
    EXPECT_TRUE(std::filesystem::exists(folder + "/config.json"));
    EXPECT_TRUE(std::filesystem::exists(folder + "/model.safetensors"));
    LoadedModel loaded = load_pretrained(folder, at::kFloat, at::kCPU);
    EXPECT_EQ(loaded.config, c);
    expect_same_tensors(*model, *loaded.model);
    EXPECT_EQ(model_content_hash(*model), model_content_hash(*loaded.model));
  }
}

// Qwen3 (q_norm / k_norm, head_dim != hidden / heads, tied or not, a sliding layer): the folder
// dpo writes reads back as the same config and tensors; a checkpoint without the q/k norms (a
// Qwen2 one under a Qwen3 config.json, or the reverse) is refused naming the tensors.
TEST(Checkpoint, Qwen3SaveThenLoadAndMismatchedArchitectures) {
  TempDir dir;
  for (bool tie : {false, true}) {
    ModelConfig c = test_config(4, 2, tie);
    c.architecture = "Qwen3ForCausalLM";
    c.head_dim = 16;
    c.sliding_window = 3;
    c.layer_types = {"sliding_attention", "full_attention"};
    LlamaForCausalLM model = make_test_model(c);
    {
      at::NoGradGuard no_grad;
      auto attn = model->model->layers[1]->as<LlamaDecoderLayerImpl>()->self_attn;
      attn->q_norm->weight.fill_(0.5);
      attn->k_norm->weight.fill_(2.0);
    }
    const std::string folder = dir.file(tie ? "tied" : "separate");
    save_pretrained(*model, folder);
    LoadedModel loaded = load_pretrained(folder, at::kFloat, at::kCPU);
    EXPECT_EQ(loaded.config, c);
    expect_same_tensors(*model, *loaded.model);
    at::Tensor ids = testing::random_ids(2, 6, c.vocab_size);
    EXPECT_TRUE(at::equal(model->forward(ids), loaded.model->forward(ids)));
  }
  ModelConfig qwen2 = test_config();
  qwen2.architecture = "Qwen2ForCausalLM";
  qwen2.head_dim = 16;
  const std::string qwen2_folder = saved_model(dir, qwen2, "qwen2");
  ModelConfig as_qwen3 = qwen2;
  as_qwen3.architecture = "Qwen3ForCausalLM";
  write_model_config(qwen2_folder + "/config.json", as_qwen3);
  expect_load_error(
      qwen2_folder, "lacks tensors the config needs: model.layers.0.self_attn.k_norm");
  expect_load_error(qwen2_folder, "model.layers.1.self_attn.q_norm.weight");
  ModelConfig llama = as_qwen3;  // no bias, no q/k norm
  llama.architecture = "LlamaForCausalLM";
  write_model_config(dir.file("separate/config.json"), llama);
  expect_load_error(
      dir.file("separate"),
      "has tensors the config does not know: model.layers.0.self_attn.k_norm.weight");
}

TEST(Checkpoint, ShardedRoundTrip) {
  TempDir dir;
  ModelConfig c = test_config();
  LlamaForCausalLM model = make_test_model(c);
  SaveOptions options;
  options.max_shard_bytes = 8000;  // a few tensors per shard
  save_pretrained(*model, dir.file("sharded"), options);
  EXPECT_FALSE(std::filesystem::exists(dir.file("sharded/model.safetensors")));
  EXPECT_TRUE(std::filesystem::exists(dir.file("sharded/model.safetensors.index.json")));
  EXPECT_GT(SafeTensorsCheckpoint(dir.file("sharded")).files().size(), 2u);
  LoadedModel loaded = load_pretrained(dir.file("sharded"), at::kFloat, at::kCPU);
  expect_same_tensors(*model, *loaded.model);
}

TEST(Checkpoint, ConvertsTheDtypeOnLoadAndRecordsItOnSave) {
  TempDir dir;
  ModelConfig c = test_config();
  LlamaForCausalLM model = make_test_model(c);
  save_pretrained(*model, dir.file("fp32"));
  LoadedModel bf16 = load_pretrained(dir.file("fp32"), at::kBFloat16, at::kCPU);
  auto original = model_state(*model), converted = model_state(*bf16.model);
  for (size_t i = 0; i < original.size(); ++i) {
    EXPECT_TRUE(at::equal(converted[i].second, original[i].second.to(at::kBFloat16)))
        << original[i].first;
  }
  save_pretrained(*bf16.model, dir.file("bf16"));
  EXPECT_EQ(read_model_config(dir.file("bf16/config.json")).torch_dtype, "bfloat16");
  EXPECT_EQ(
      SafeTensorsFile(dir.file("bf16/model.safetensors")).info("model.norm.weight").dtype,
      SafeDType::BF16);
  expect_same_tensors(
      *bf16.model, *load_pretrained(dir.file("bf16"), at::kBFloat16, at::kCPU).model);
}

TEST(Checkpoint, CopiesTokenizerFilesThrough) {
  TempDir dir;
  std::filesystem::create_directories(dir.file("source"));
  testing::write_file(dir.file("source/tokenizer.model"), "spm bytes");
  testing::write_file(dir.file("source/tokenizer_config.json"), "{\"chat_template\": \"x\"}");
  testing::write_file(dir.file("source/unrelated.txt"), "not copied");
  LlamaForCausalLM model = make_test_model(test_config());
  SaveOptions options;
  options.tokenizer_source = dir.file("source");
  save_pretrained(*model, dir.file("out"), options);
  EXPECT_EQ(testing::read_file(dir.file("out/tokenizer.model")), "spm bytes");
  EXPECT_EQ(
      testing::read_file(dir.file("out/tokenizer_config.json")), "{\"chat_template\": \"x\"}");
  EXPECT_FALSE(std::filesystem::exists(dir.file("out/unrelated.txt")));
  EXPECT_FALSE(std::filesystem::exists(dir.file("out/special_tokens_map.json")));
}

TEST(Checkpoint, SavingIntoANonEmptyFolderNeedsOverwrite) {
  TempDir dir;
  ModelConfig c = test_config();
  const std::string folder = saved_model(dir, c);
  LlamaForCausalLM other = make_test_model(c, 99);
  EXPECT_THROW(save_pretrained(*other, folder), CheckpointError);
  SaveOptions options;
  options.overwrite = true;
  save_pretrained(*other, folder, options);
  expect_same_tensors(*other, *load_pretrained(folder, at::kFloat, at::kCPU).model);
  // No temporary or old folders are left beside it.
  int entries = 0;
  for (auto it = std::filesystem::directory_iterator(dir.path());
       it != std::filesystem::directory_iterator();
       ++it) {
    ++entries;
  }
  EXPECT_EQ(entries, 1);
}

TEST(Checkpoint, MissingUnexpectedAndMisshapenTensorsAreNamed) {
  TempDir dir;
  ModelConfig c = test_config();
  const std::string folder = saved_model(dir, c);
  LlamaForCausalLM model = make_test_model(c);
  NamedTensors state = model_state(*model);

  NamedTensors missing(state.begin() + 1, state.end());  // without model.embed_tokens.weight
  write_safetensors(folder + "/model.safetensors", missing);
  expect_load_error(folder, "lacks tensors the config needs: model.embed_tokens.weight");

  NamedTensors extra = state;
  extra.emplace_back("model.layers.5.mlp.gate_proj.weight", at::zeros({2, 2}));
  write_safetensors(folder + "/model.safetensors", extra);
  expect_load_error(folder, "does not know: model.layers.5.mlp.gate_proj.weight");

  NamedTensors misshapen = state;
  misshapen[0].second = at::zeros({c.vocab_size + 1, c.hidden_size});
  write_safetensors(folder + "/model.safetensors", misshapen);
  expect_load_error(folder, "model.embed_tokens.weight [54, 32]");

  NamedTensors integer = state;
  integer[0].second = at::zeros({c.vocab_size, c.hidden_size}, at::kLong);
  write_safetensors(folder + "/model.safetensors", integer);
  expect_load_error(folder, "integer type I64");

  // A config that says 3 layers for a 2-layer checkpoint.
  write_safetensors(folder + "/model.safetensors", state);
  ModelConfig deeper = c;
  deeper.num_hidden_layers = 3;
  write_model_config(folder + "/config.json", deeper);
  expect_load_error(
      folder, "key 'num_hidden_layers' = 3, but '" + folder + "/model.safetensors' holds 2 layers");
}

// What LlamaForCausalLM registers is exactly what model_tensor_specs lists, for every variant
// of the architecture (the header check relies on it).
TEST(Checkpoint, TensorSpecsEqualTheModulesParameters) {
  std::vector<ModelConfig> configs = {test_config(), test_config(4, 4, true), test_config(2, 1)};
  ModelConfig qwen = test_config();
  qwen.architecture = "Qwen2ForCausalLM";
  ModelConfig biased = test_config();
  biased.attention_bias = true;
  ModelConfig wide_heads = test_config();
  wide_heads.head_dim = 16;  // heads x head_dim != hidden_size
  ModelConfig qwen3 = wide_heads;
  qwen3.architecture = "Qwen3ForCausalLM";
  ModelConfig qwen3_tied_biased = qwen3;
  qwen3_tied_biased.tie_word_embeddings = true;
  qwen3_tied_biased.attention_bias = true;
  for (const ModelConfig& c : {qwen, biased, wide_heads, qwen3, qwen3_tied_biased})
    configs.push_back(c);
  for (const ModelConfig& c : configs) {
    LlamaForCausalLM model(c, at::TensorOptions());
    NamedTensors state = model_state(*model);
    std::vector<TensorSpec> specs = model_tensor_specs(c);
    ASSERT_EQ(specs.size(), state.size()) << c.architecture;
    for (size_t i = 0; i < specs.size(); ++i) {
      EXPECT_EQ(specs[i].name, state[i].first);
      EXPECT_EQ(specs[i].shape, state[i].second.sizes().vec()) << specs[i].name;
    }
  }
}

// Each config key whose value does not match the checkpoint is named with both sides, from the
// headers alone: check_checkpoint_matches never builds a model.
TEST(Checkpoint, ConfigKeysThatDisagreeWithTheTensorsAreNamed) {
  TempDir dir;
  const ModelConfig c = test_config();
  const std::string folder = saved_model(dir, c);
  const SafeTensorsCheckpoint checkpoint(folder);
  const std::string file = "'" + folder + "/model.safetensors'";
  auto expect_key = [&](const ModelConfig& config, const std::string& fragment) {
    try {
      check_checkpoint_matches(config, "cfg.json", checkpoint, folder);
      ADD_FAILURE() << "accepted; expected " << fragment;
    } catch (const CheckpointError& e) {
      EXPECT_NE(std::string(e.what()).find("config 'cfg.json': " + fragment), std::string::npos)
          << e.what();
    }
  };
  ModelConfig v = c;
  v.num_hidden_layers = 1000;
  expect_key(v, "key 'num_hidden_layers' = 1000, but " + file + " holds 2 layers");
  v = c;
  v.num_hidden_layers = 1;
  expect_key(v, "key 'num_hidden_layers' = 1, but " + file + " holds 2 layers");
  v = c;
  v.vocab_size = kMaxVocabSize;  // within the limits, 1 GiB to allocate: refused first
  expect_key(
      v, "key 'vocab_size' = 4194304, but " + file + " holds model.embed_tokens.weight [53, 32]");
  v = c;
  v.hidden_size = 64;
  v.head_dim = 16;
  expect_key(v, "key 'hidden_size' = 64, but");
  v = c;
  v.intermediate_size = kMaxIntermediateSize;
  expect_key(
      v,
      "key 'intermediate_size' = 1048576, but " + file +
          " holds model.layers.0.mlp.gate_proj.weight [48, 32]");
  v = c;
  v.num_attention_heads = 8;
  expect_key(v, "key 'num_attention_heads' = 8, but");
  v = c;
  v.num_key_value_heads = 4;
  expect_key(v, "key 'num_key_value_heads' = 4, but");
  v = c;
  v.head_dim = 16;  // q_proj would need 64 rows
  expect_key(v, "key 'num_attention_heads' = 4, but");
  v = c;
  v.tie_word_embeddings = true;  // the checkpoint's separate lm_head is not the embeddings
  EXPECT_NO_THROW(check_checkpoint_matches(v, "cfg.json", checkpoint, folder));  // compared at load
  const std::string tied = saved_model(dir, test_config(4, 2, true), "tied");
  v = test_config(4, 2, true);
  v.tie_word_embeddings = false;
  try {
    check_checkpoint_matches(v, "cfg.json", SafeTensorsCheckpoint(tied), tied);
    ADD_FAILURE() << "accepted an untied config for a tied checkpoint";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("key 'tie_word_embeddings' is false"), std::string::npos)
        << e.what();
  }
}

// load_pretrained refuses a config.json whose sizes would allocate far more than the checkpoint
// holds, before allocating: it runs under an address-space limit that such an allocation breaks.
TEST(Checkpoint, OversizedConfigsAreRefusedBeforeAnyAllocation) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");  // the child re-runs this test alone
  TempDir dir;
  const ModelConfig c = test_config();
  const std::string folder = saved_model(dir, c);
  ModelConfig big = c;
  big.vocab_size = kMaxVocabSize;                // 2 x 512 MiB of embeddings and head
  big.intermediate_size = kMaxIntermediateSize;  // 6 x 128 MiB of MLP
  write_model_config(folder + "/config.json", big);
  EXPECT_EXIT(
      {
        struct rlimit limit {};
        getrlimit(RLIMIT_AS, &limit);
        // Room for what the process maps already plus 256 MiB: far below the model's 1.7 GiB.
        limit.rlim_cur = static_cast<rlim_t>(virtual_memory_bytes()) + (256u << 20);
        setrlimit(RLIMIT_AS, &limit);
        try {
          load_pretrained(folder, at::kFloat, at::kCPU);
        } catch (const CheckpointError& e) {
          std::exit(
              std::string(e.what()).find("key 'vocab_size' = 4194304") != std::string::npos ? 0
                                                                                            : 3);
        } catch (...) {
          std::exit(4);
        }
        std::exit(5);
      },
      ::testing::ExitedWithCode(0),
      "");
  // Sanity of the harness: the same limit does break the allocation itself, which is then
  // a ConfigError naming the model (never LibTorch's "internal error").
  EXPECT_EXIT(
      {
        struct rlimit limit {};
        getrlimit(RLIMIT_AS, &limit);
        limit.rlim_cur = static_cast<rlim_t>(virtual_memory_bytes()) + (256u << 20);
        setrlimit(RLIMIT_AS, &limit);
        try {
          allocate_model(big, at::TensorOptions(), "big");
        } catch (const ConfigError& e) {
          std::exit(
              std::string(e.what()).find("cannot allocate the model of 'big'") != std::string::npos
                  ? 0
                  : 3);
        } catch (...) {
          std::exit(4);
        }
        std::exit(5);
      },
      ::testing::ExitedWithCode(0),
      "");
}

TEST(Checkpoint, ModelsLargerThanTheMachineAreRefusedBeforeAllocating) {
  ModelConfig c = model_config_preset("tinyllama-1b", kMaxVocabSize);
  c.hidden_size = kMaxHiddenSize;
  c.head_dim = kMaxHiddenSize / c.num_attention_heads;
  c.intermediate_size = kMaxIntermediateSize;
  c.num_hidden_layers = kMaxHiddenLayers;  // about 2^48 parameters: a petabyte
  try {
    allocate_model(c, at::TensorOptions(), "huge/config.json");
    ADD_FAILURE() << "allocated a petabyte model";
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("the model of 'huge/config.json' ("), std::string::npos) << what;
    EXPECT_NE(what.find("does not fit in this machine's memory"), std::string::npos) << what;
  }
}

TEST(Checkpoint, TiedCheckpointMayCarryTheSameLmHead) {
  TempDir dir;
  ModelConfig c = test_config(4, 2, true);
  const std::string folder = saved_model(dir, c);
  LlamaForCausalLM model = make_test_model(c);
  NamedTensors state = model_state(*model);
  state.emplace_back("lm_head.weight", model->model->embed_tokens->weight.detach().clone());
  state.emplace_back("model.layers.0.self_attn.rotary_emb.inv_freq", at::ones({4}));
  write_safetensors(folder + "/model.safetensors", state);
  expect_same_tensors(*model, *load_pretrained(folder, at::kFloat, at::kCPU).model);
  state[state.size() - 2].second = at::zeros({c.vocab_size, c.hidden_size});
  write_safetensors(folder + "/model.safetensors", state);
  expect_load_error(folder, "lm_head.weight different from the embeddings");
}

TEST(Checkpoint, BadFilesNeverCrash) {
  TempDir dir;
  const std::string folder = saved_model(dir, test_config());
  const std::string file = folder + "/model.safetensors";
  const std::string good = testing::read_file(file);
  testing::write_file(file, good.substr(0, good.size() / 2));  // truncated download
  expect_load_error(folder, "past the end");
  testing::write_file(file, good.substr(0, 4));
  expect_load_error(folder, "too short");
  std::filesystem::remove(file);
  expect_load_error(folder, "neither model.safetensors");
  EXPECT_THROW(load_pretrained(dir.file("nowhere"), at::kFloat, at::kCPU), IoError);
}

TEST(Checkpoint, RandomInitIsSeededAndShapedLikeTransformers) {
  ModelConfig c = test_config();
  c.initializer_range = 0.02;
  c.pad_token_id = 0;
  c.hidden_size = 64;
  c.head_dim = 16;
  LlamaForCausalLM a = make_test_model(c, 1), b = make_test_model(c, 1),
                   other = make_test_model(c, 2);
  expect_same_tensors(*a, *b);
  EXPECT_FALSE(at::equal(a->model->embed_tokens->weight, other->model->embed_tokens->weight));
  EXPECT_TRUE(at::equal(a->model->norm->weight, at::ones({64})));
  at::Tensor q = a->model->layers[0]->as<LlamaDecoderLayerImpl>()->self_attn->q_proj->weight;
  EXPECT_NEAR(q.mean().item<double>(), 0.0, 0.002);
  EXPECT_NEAR(q.std().item<double>(), 0.02, 0.002);
  EXPECT_EQ(a->model->embed_tokens->weight[0].abs().sum().item<float>(), 0.0f);  // pad row
}

TEST(Checkpoint, ContentHashFollowsTensorsAndConfig) {
  ModelConfig c = test_config();
  LlamaForCausalLM a = make_test_model(c, 1), b = make_test_model(c, 1);
  const std::string hash = model_content_hash(*a);
  EXPECT_EQ(hash.size(), 32u);
  EXPECT_EQ(hash, model_content_hash(*b));
  {
    at::NoGradGuard no_grad;
    b->model->norm->weight[3].fill_(1.5);
  }
  EXPECT_NE(hash, model_content_hash(*b));
  ModelConfig longer = c;
  longer.max_position_embeddings = 128;
  LlamaForCausalLM d = make_test_model(longer, 1);
  EXPECT_NE(hash, model_content_hash(*d));
}

TEST(Checkpoint, ParseDtype) {
  EXPECT_EQ(parse_model_dtype("bf16"), at::kBFloat16);
  EXPECT_EQ(parse_model_dtype("float32"), at::kFloat);
  EXPECT_EQ(parse_model_dtype("fp16"), at::kHalf);
  EXPECT_THROW(parse_model_dtype("int8"), UsageError);
  EXPECT_EQ(model_dtype_name(at::kBFloat16), "bfloat16");
}

}  // namespace
}  // namespace dpo
