// The memory estimate, term by term. Sizes in bytes; e is the bytes of a value in the forward's
// dtype (4 for fp32, 2 for bf16), h the hidden size, I the intermediate size, H/KV the query and
// key/value heads, D the head dimension, V the vocabulary, n the decoder layers. What autograd
// keeps is read off model/llama.cpp and model/sequence_logprobs.cpp (docs/memory.md explains
// each term with an example).
#include "plan/memory_plan.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <fstream>

#include "core/error.h"

namespace dpo {

namespace {

constexpr int64_t kFp32 = 4;

int64_t value_bytes(TrainDtype dtype) {
  return dtype == TrainDtype::fp32 ? 4 : 2;
}

std::string figure(int64_t value) {
  return std::to_string(value);
}

// LoRA targets of one decoder layer as (in, out) features, PEFT's module names.
std::vector<std::pair<int64_t, int64_t>> lora_targets(const ModelConfig& m, const LoraConfig& l) {
  const int64_t q = m.num_attention_heads * m.head_dim, kv = m.num_key_value_heads * m.head_dim;
  const std::vector<std::pair<std::string, std::pair<int64_t, int64_t>>> modules = {
      {"q_proj", {m.hidden_size, q}},
      {"k_proj", {m.hidden_size, kv}},
      {"v_proj", {m.hidden_size, kv}},
      {"o_proj", {q, m.hidden_size}},
      {"gate_proj", {m.hidden_size, m.intermediate_size}},
      {"up_proj", {m.hidden_size, m.intermediate_size}},
      {"down_proj", {m.intermediate_size, m.hidden_size}}};
  const bool all = std::find(l.target_modules.begin(), l.target_modules.end(), "all-linear") !=
                   l.target_modules.end();
  std::vector<std::pair<int64_t, int64_t>> out;
  for (const auto& [name, shape] : modules) {
    if (all ||
        std::find(l.target_modules.begin(), l.target_modules.end(), name) != l.target_modules.end())
      out.push_back(shape);
  }
  return out;
}

// What is trained, in parameters.
struct Trainable {
  int64_t base = 0;          // base-model parameters trained in full (dtype e): all, or LoRA's
                             // modules_to_save (embeddings, lm_head)
  int64_t adapters = 0;      // LoRA A and B matrices (fp32)
  int64_t largest = 0;       // the largest trained tensor (the optimizer step's scratch)
  bool head_trained = true;  // the LM head's weight gets a gradient
};

Trainable trainable_parameters(const PlanInputs& in) {
  const ModelConfig& m = in.model;
  const int64_t embedding = m.vocab_size * m.hidden_size;
  Trainable t;
  if (!in.lora.enabled) {
    t.base = m.num_parameters();
    t.largest = std::max(embedding, m.hidden_size * m.intermediate_size);
    return t;
  }
  for (const auto& [features_in, features_out] : lora_targets(m, in.lora)) {
    t.adapters += m.num_hidden_layers * in.lora.rank * (features_in + features_out);
    t.largest = std::max(t.largest, in.lora.rank * std::max(features_in, features_out));
  }
  if (in.lora.train_embeddings)
    t.base += embedding;
  if (in.lora.train_lm_head && !m.tie_word_embeddings)
    t.base += embedding;
  if (t.base > 0)
    t.largest = std::max(t.largest, embedding);
  t.head_trained = m.tie_word_embeddings ? in.lora.train_embeddings || in.lora.train_lm_head
                                         : in.lora.train_lm_head;
  return t;
}

// What autograd keeps of one decoder layer for a micro-batch of shape `b` (bytes). Autograd
// keeps an operand of a product only when the other operand needs a gradient, so what a layer
// keeps depends on what is trained. Full training:
//   RMSNorm (x2):   (4 + 2e) h per token: its fp32 input (x itself in fp32, x.float() in bf16),
//                   the normalised values and the weighted output (the projections' input)
//   Q/K/V + RoPE:   nothing: the rotary products' other operands (cos, sin) need no gradient
//   attention in:   (H + 2 kv) D e per attention slot (rows x length): the query and, after
//                   repeat_kv (kv = H when KV < H, else KV), keys and values the matmuls keep
//   scores (eager): rows H len^2 (4 + e [bf16]): the fp32 softmax output (and its bf16 copy),
//                   plus len^2 bytes of the boolean mask per row;
//   scores (SDPA):  rows H len 4: the log-sum-exp per query (the output is counted below)
//   attention out:  H D e per token: o_proj's input
//   MLP:            4 I e per token: gate, silu(gate), up and their product
//   Qwen3 q/k norm: (4 + 2e)(H + KV) D per token
//   RoPE tables:    2 D e per token in bf16 (cos and sin cast per layer)
// LoRA (frozen base): a frozen linear keeps nothing of its input and a frozen norm weight
// nothing of its normalised input, so per token the layer keeps 2 x 4h (the norms' fp32
// inputs), the attention inputs and scores as above, 3 I e of the MLP (gate, silu, up), and per
// targeted module its input (once per distinct input: the adapters' products run in the base's
// dtype, model/lora.cpp) and the [tokens, r] product A x.
int64_t layer_activation_bytes(const PlanInputs& in, const MicroBatchShape& b) {
  const ModelConfig& m = in.model;
  const int64_t e = value_bytes(in.dtype);
  const int64_t h = m.hidden_size, d = m.head_dim;
  const int64_t heads = m.num_attention_heads, kv_heads = m.num_key_value_heads;
  const int64_t kv_kept = kv_heads < heads ? heads : kv_heads;
  const int64_t slots = b.attention_rows * b.attention_length;
  int64_t per_token = 0;
  if (!in.lora.enabled) {
    per_token += 2 * (kFp32 + 2 * e) * h;      // two RMSNorms
    per_token += heads * d * e;                // attention output (o_proj input)
    per_token += 4 * m.intermediate_size * e;  // MLP
    if (m.qk_norm())
      per_token += (kFp32 + 2 * e) * (heads + kv_heads) * d;
  } else {
    per_token += 2 * kFp32 * h;                // the norms' fp32 inputs
    per_token += 3 * m.intermediate_size * e;  // gate, silu(gate), up
    const auto& targets = in.lora.target_modules;
    auto targeted = [&](const char* name) {
      return std::find(targets.begin(), targets.end(), "all-linear") != targets.end() ||
             std::find(targets.begin(), targets.end(), name) != targets.end();
    };
    const int64_t qkv =
        (targeted("q_proj") ? 1 : 0) + (targeted("k_proj") ? 1 : 0) + (targeted("v_proj") ? 1 : 0);
    const int64_t gate_up = (targeted("gate_proj") ? 1 : 0) + (targeted("up_proj") ? 1 : 0);
    // One input shared by q/k/v and one by gate/up, kept once whatever number of them is targeted.
    per_token += std::min<int64_t>(qkv, 1) * h * e + std::min<int64_t>(gate_up, 1) * h * e;
    if (targeted("o_proj"))
      per_token += heads * d * e;
    if (targeted("down_proj"))
      per_token += m.intermediate_size * e;
    const int64_t modules =
        qkv + gate_up + (targeted("o_proj") ? 1 : 0) + (targeted("down_proj") ? 1 : 0);
    per_token += modules * in.lora.rank * e;  // A x, kept for B's gradient
  }
  if (e < kFp32)
    per_token += 2 * d * e;
  int64_t bytes = per_token * b.tokens;
  bytes += (heads + 2 * kv_kept) * d * e * slots;
  const int64_t square = b.attention_rows * b.attention_length * b.attention_length;
  if (in.sdpa) {
    bytes += heads * slots * kFp32;
  } else {
    bytes += heads * square * (kFp32 + (e < kFp32 ? e : 0)) + square;
  }
  return bytes;
}

// The scratch of one layer's backward pass beyond what the forward kept: the gradients of the
// attention scores (eager: the probabilities' and the scores' gradients in fp32, and in bf16 the
// cast) and of the MLP's intermediate values (two [tokens, I] at a time) and hidden states.
int64_t layer_backward_scratch_bytes(const PlanInputs& in, const MicroBatchShape& b) {
  const ModelConfig& m = in.model;
  const int64_t e = value_bytes(in.dtype);
  int64_t bytes = 2 * m.intermediate_size * e * b.tokens + 2 * m.hidden_size * e * b.tokens;
  if (!in.sdpa) {
    const int64_t square = b.attention_rows * b.attention_length * b.attention_length;
    bytes = std::max(bytes, m.num_attention_heads * square * (2 * kFp32 + (e < kFp32 ? e : 0)));
  }
  return bytes;
}

// The peak of a forward pass without gradients (evaluation, reference log-probs): the hidden
// states and one layer's largest set of live temporaries (eager attention: scores, their fp32
// softmax and its cast; else the MLP's three [tokens, I]), and the logits chunk.
int64_t no_grad_forward_bytes(const PlanInputs& in, const MicroBatchShape& b, int64_t chunk) {
  const ModelConfig& m = in.model;
  const int64_t e = value_bytes(in.dtype);
  const int64_t slots = b.attention_rows * b.attention_length;
  int64_t attention = 2 * (m.num_attention_heads + 2 * m.num_key_value_heads) * m.head_dim * e *
                      std::max(slots, b.tokens);
  if (!in.sdpa) {
    const int64_t square = b.attention_rows * b.attention_length * b.attention_length;
    attention += m.num_attention_heads * square * (kFp32 + 2 * e);
  }
  const int64_t mlp = 3 * m.intermediate_size * e * b.tokens;
  return 3 * m.hidden_size * e * b.tokens + std::max(attention, mlp) + chunk;
}

struct Phase {
  std::string name;
  std::vector<PlanTerm> terms;
  int64_t total() const {
    int64_t sum = 0;
    for (const PlanTerm& t : terms)
      sum += t.bytes;
    return sum;
  }
};

}  // namespace

MicroBatchShape worst_case_micro_batch(int64_t pairs, int64_t max_length, PlanLayout layout) {
  MicroBatchShape b;
  const int64_t l = std::max<int64_t>(max_length, 2);
  const int64_t shared = 2 * l - 1;  // [prompt (1) | chosen | rejected]
  b.predicted = 2 * pairs * (l - 1);
  if (layout.padding_free) {
    b.tokens = layout.prefix_sharing ? pairs * shared : 2 * pairs * l;
    b.attention_rows = 2 * pairs;  // one view per sequence
    b.attention_length = l;
  } else if (layout.prefix_sharing) {
    b.tokens = pairs * shared;
    b.attention_rows = pairs;
    b.attention_length = shared;
  } else {
    b.tokens = 2 * pairs * l;
    b.attention_rows = 2 * pairs;
    b.attention_length = l;
  }
  return b;
}

MemoryPlan estimate_memory(const PlanInputs& in) {
  const ModelConfig& m = in.model;
  const int64_t e = value_bytes(in.dtype);
  const int64_t parameters = m.num_parameters();
  const int64_t embedding = m.vocab_size * m.hidden_size;
  const Trainable trained = trainable_parameters(in);
  const MicroBatchShape& b = in.micro_batch;
  const bool cpu = in.device == PlanDevice::cpu;

  // Static: what lives through the whole run.
  std::vector<PlanTerm> fixed;
  if (in.lora.enabled) {
    fixed.push_back(
        {"weights",
         parameters * e + trained.adapters * kFp32,
         figure(parameters) + " frozen base parameters x " + figure(e) + " B + " +
             figure(trained.adapters) + " LoRA adapter parameters x 4 B (fp32)"});
    fixed.push_back(
        {"gradients",
         trained.adapters * kFp32 + trained.base * e,
         "adapters only (x 4 B)" +
             (trained.base > 0 ? " and " + figure(trained.base) + " fully trained parameters" +
                                     " x " + figure(e) + " B"
                               : std::string()) +
             "; frozen base: none"});
  } else {
    fixed.push_back(
        {"weights", parameters * e, figure(parameters) + " parameters x " + figure(e) + " B"});
    fixed.push_back(
        {"gradients",
         parameters * e,
         figure(parameters) + " parameters x " + figure(e) + " B (the parameters' dtype)"});
  }
  const int64_t trained_total = trained.base + trained.adapters;
  fixed.push_back(
      {"optimizer state",
       trained_total * 2 * kFp32,
       "AdamW exp_avg + exp_avg_sq: " + figure(trained_total) + " trained parameters x 8 B"});
  const int64_t masters = in.dtype == TrainDtype::bf16 ? trained.base : 0;
  fixed.push_back(
      {"master weights",
       masters * kFp32,
       masters > 0 ? figure(masters) + " bf16 parameters x 4 B (fp32 copies the update runs on)"
       : in.lora.enabled && in.dtype == TrainDtype::bf16
           ? std::string("none: the adapters are fp32")
           : std::string(
                 in.dtype == TrainDtype::fp32 ? "none: fp32 weights"
                                              : "none: bf16_pure updates bf16 weights")});
  if (in.separate_reference && !in.lora.enabled) {
    fixed.push_back(
        {"reference model",
         parameters * e,
         "live mode: a second model, " + figure(parameters) + " parameters x " + figure(e) +
             " B, no gradients"});
  } else {
    fixed.push_back(
        {"reference model",
         0,
         in.lora.enabled
             ? "none: the policy with its adapters switched off"
             : (in.reference_mode == ReferenceMode::precomputed ? "none: precomputed log-probs"
                                                                : "none")});
  }
  if (cpu) {
    fixed.push_back(
        {"process baseline",
         in.cpu_baseline_bytes + in.data_bytes,
         "CPU: LibTorch and the process (" + format_bytes(in.cpu_baseline_bytes) +
             ", measured) + the prepared data in memory (" + format_bytes(in.data_bytes) + ")"});
  }

  // The logits chunk: positions per chunk so that a chunk holds at most max_chunk_logits values.
  const int64_t chunk_rows = std::min(
      std::max<int64_t>(1, in.max_chunk_logits / m.vocab_size), std::max<int64_t>(1, b.predicted));
  const int64_t chunk_values = chunk_rows * m.vocab_size;
  // Forward: the fp32 logits, logsumexp's shifted copy and its exp (the e logits are cast away).
  const int64_t chunk_forward = chunk_values * 3 * kFp32;
  // Backward: the chunk's fp32 logits, their softmax and the e gradient, plus the hidden states'
  // gradient [M, h]; when the head is trained, the fp32 accumulator of its gradient [V, h], one
  // chunk's product (e) and, in bf16, its fp32 cast.
  int64_t head_backward = chunk_values * (2 * kFp32 + e) + b.predicted * m.hidden_size * e;
  if (trained.head_trained)
    head_backward += embedding * (kFp32 + e + (e < kFp32 ? kFp32 : 0));

  const int64_t layer = layer_activation_bytes(in, b);
  // Shared by the layers: the RoPE tables (fp32 cos and sin per position) and the final norm of
  // the predicting positions.
  const int64_t shared =
      2 * m.head_dim * kFp32 * b.tokens + (kFp32 + 2 * e) * m.hidden_size * b.predicted;
  const int64_t full_activations = m.num_hidden_layers * layer + shared;
  // Gradient checkpointing: each layer keeps only its input [tokens, h]; the backward pass runs
  // one layer again with autograd on, so one layer's activations exist at a time.
  const int64_t checkpointed_activations =
      m.num_hidden_layers * m.hidden_size * e * b.tokens + layer + shared;
  const int64_t activations =
      in.gradient_checkpointing ? checkpointed_activations : full_activations;
  const int64_t backward_scratch = layer_backward_scratch_bytes(in, b);
  const bool live = in.reference_mode == ReferenceMode::live;
  const int64_t reference_forward = live ? no_grad_forward_bytes(in, b, chunk_forward) : 0;

  std::vector<Phase> phases;
  {
    Phase p;
    p.name = "backward";
    p.terms = fixed;
    p.terms.push_back(
        {"activations",
         activations,
         std::string(in.gradient_checkpointing ? "gradient checkpointing: " : "") +
             "micro-batch of " + figure(in.micro_batch_pairs) + " pairs, " + figure(b.tokens) +
             " tokens, attention " + figure(b.attention_rows) + " x " + figure(b.attention_length) +
             " (" + format_bytes(layer) + " per layer x " + figure(m.num_hidden_layers) +
             " layers" + (in.gradient_checkpointing ? ", one at a time" : "") + ")"});
    // At the start of the backward pass every activation is held; the first node is the LM
    // head's backward, then the layers' (one at a time); in live mode the reference's forward
    // ran between the policy's forward and backward. With gradient checkpointing the one layer
    // counted in the activations is recomputed only for its own backward, so the LM head's
    // forward and backward and the reference's forward run without it.
    const int64_t recomputed_layer = in.gradient_checkpointing ? layer : 0;
    int64_t transient = backward_scratch;
    std::string what = "one layer's backward scratch";
    // A transient outside the layers' backward, so without the recomputed layer.
    auto consider = [&](int64_t bytes, const std::string& name) {
      if (bytes - recomputed_layer > transient) {
        transient = bytes - recomputed_layer;
        what =
            name + (in.gradient_checkpointing ? " (less the recomputed layer, not live then)" : "");
      }
    };
    consider(
        head_backward,
        "logits chunk (" + figure(chunk_rows) + " positions x " + figure(m.vocab_size) +
            ") and LM-head gradient, backward");
    consider(reference_forward, "the reference forward (live mode), logits chunk included");
    consider(chunk_forward, "logits chunk, forward");
    p.terms.push_back({"logits chunk / scratch", transient, what});
    phases.push_back(p);
  }
  {
    // AdamW's step: per tensor, its gradient in fp32 (bf16), the weights in fp32 without
    // masters (bf16_pure) and the denominator, for the largest trained tensor.
    Phase p;
    p.name = "optimizer step";
    p.terms = fixed;
    const int64_t scratch = trained.largest * (kFp32 + (e < kFp32 ? kFp32 : 0) +
                                               (in.dtype == TrainDtype::bf16_pure ? kFp32 : 0));
    p.terms.push_back({"optimizer scratch", scratch, "the largest trained tensor's fp32 scratch"});
    phases.push_back(p);
  }
  {
    Phase p;
    p.name = "evaluation";
    p.terms = fixed;
    const int64_t eval_chunk = std::min(
                                   std::max<int64_t>(1, in.max_chunk_logits / m.vocab_size),
                                   std::max<int64_t>(1, in.eval_batch.predicted)) *
                               m.vocab_size * 3 * kFp32;
    p.terms.push_back(
        {"evaluation forward",
         no_grad_forward_bytes(in, in.eval_batch, eval_chunk),
         "no-gradient forward of " + figure(in.eval_batch.tokens) + " tokens"});
    phases.push_back(p);
  }
  if (in.reference_pass_model) {
    // The precomputed reference pass with another model: both models, no optimizer yet.
    Phase p;
    p.name = "reference pass";
    const int64_t eval_chunk = std::min(
                                   std::max<int64_t>(1, in.max_chunk_logits / m.vocab_size),
                                   std::max<int64_t>(1, in.eval_batch.predicted)) *
                               m.vocab_size * 3 * kFp32;
    p.terms.push_back({"weights", parameters * e, "the policy"});
    p.terms.push_back({"reference model", parameters * e, "reference.path, for the pass only"});
    p.terms.push_back(
        {"evaluation forward",
         no_grad_forward_bytes(in, in.eval_batch, eval_chunk),
         "no gradients"});
    if (cpu)
      p.terms.push_back({"process baseline", in.cpu_baseline_bytes + in.data_bytes, "CPU"});
    phases.push_back(p);
  }

  const Phase* peak = &phases[0];
  for (const Phase& p : phases) {
    if (p.total() > peak->total())
      peak = &p;
  }
  MemoryPlan plan;
  plan.terms = peak->terms;
  plan.peak_bytes = peak->total();
  plan.peak_phase = peak->name;
  plan.activations_bytes = full_activations;
  plan.activations_checkpointed_bytes = checkpointed_activations;
  plan.trainable_parameters = trained_total;
  plan.total_parameters = parameters + trained.adapters;
  return plan;
}

// ---- Verdict and suggestions -------------------------------------------------------------------

namespace {

PlanSuggestion suggestion(
    const PlanInputs& inputs,
    int64_t budget,
    std::string description,
    std::vector<std::string> set) {
  PlanSuggestion s;
  s.description = std::move(description);
  s.set = std::move(set);
  s.inputs = inputs;
  s.plan = estimate_memory(inputs);
  s.fits = s.plan.peak_bytes <= budget;
  return s;
}

// The same inputs with a micro-batch of `pairs` pairs (shapes scaled from the current ones).
PlanInputs with_micro_batch(const PlanInputs& in, int64_t pairs) {
  PlanInputs out = in;
  const int64_t old = std::max<int64_t>(1, in.micro_batch_pairs);
  out.micro_batch_pairs = pairs;
  out.grad_accum = std::max<int64_t>(1, in.grad_accum * old / pairs);
  auto scale = [&](int64_t v) { return (v * pairs + old - 1) / old; };
  out.micro_batch.tokens = scale(in.micro_batch.tokens);
  out.micro_batch.predicted = scale(in.micro_batch.predicted);
  if (in.micro_batch.attention_rows >= old)  // rows per pair (padded and view layouts)
    out.micro_batch.attention_rows = scale(in.micro_batch.attention_rows);
  return out;
}

}  // namespace

PlanVerdict judge_memory_plan(const PlanInputs& inputs, int64_t budget) {
  PlanVerdict verdict;
  verdict.plan = estimate_memory(inputs);
  verdict.budget_bytes = budget;
  verdict.fits = budget <= 0 || verdict.plan.peak_bytes <= budget;
  if (verdict.fits)
    return verdict;

  std::vector<PlanSuggestion> tried;
  // 1. A smaller micro-batch (the largest that fits), the effective batch kept by grad_accum.
  for (int64_t pairs = inputs.micro_batch_pairs / 2; pairs >= 1; pairs /= 2) {
    PlanInputs smaller = with_micro_batch(inputs, pairs);
    PlanSuggestion s = suggestion(
        smaller,
        budget,
        "micro-batch of " + figure(pairs) + " pairs (grad_accum " + figure(smaller.grad_accum) +
            " keeps the batch)",
        {"train.micro_batch_pairs=" + figure(pairs),
         "train.grad_accum=" + figure(smaller.grad_accum)});
    if (s.fits || pairs == 1) {
      tried.push_back(s);
      break;
    }
  }
  // 2. Gradient checkpointing.
  PlanInputs checkpointed = inputs;
  checkpointed.gradient_checkpointing = true;
  if (!inputs.gradient_checkpointing) {
    tried.push_back(suggestion(
        checkpointed, budget, "gradient checkpointing", {"train.gradient_checkpointing=true"}));
  }
  // 3. bf16 (with fp32 master weights).
  PlanInputs bf16 = inputs;
  if (inputs.dtype == TrainDtype::fp32) {
    bf16.dtype = TrainDtype::bf16;
    tried.push_back(
        suggestion(bf16, budget, "bf16 weights, fp32 master weights", {"train.dtype=bf16"}));
  }
  // 4. LoRA r=16 on every linear layer, base frozen (in bf16 where the run trains bf16).
  if (!inputs.lora.enabled) {
    PlanInputs lora = inputs;
    lora.lora.enabled = true;
    lora.lora.rank = 16;
    lora.lora.alpha = 32;
    lora.lora.target_modules = {"all-linear"};
    const std::vector<std::string> lora_set = {
        "lora.enabled=true",
        "lora.rank=16",
        "lora.alpha=32",
        "lora.target_modules=[\"all-linear\"]"};
    tried.push_back(suggestion(lora, budget, "LoRA r=16 on all linear layers", lora_set));
    // 5. Combinations, the smallest last.
    PlanInputs lora_bf16 = lora;
    std::vector<std::string> set = lora_set;
    std::string description = "LoRA r=16";
    if (lora_bf16.dtype == TrainDtype::fp32) {
      lora_bf16.dtype = TrainDtype::bf16;
      set.push_back("train.dtype=bf16");
      description += " + bf16 base";
      tried.push_back(suggestion(lora_bf16, budget, description, set));
    }
    PlanInputs all = lora_bf16;
    if (!all.gradient_checkpointing) {
      all.gradient_checkpointing = true;
      set.push_back("train.gradient_checkpointing=true");
      description += " + gradient checkpointing";
      tried.push_back(suggestion(all, budget, description, set));
    }
    if (all.micro_batch_pairs > 1) {
      PlanInputs one = with_micro_batch(all, 1);
      set.push_back("train.micro_batch_pairs=1");
      set.push_back("train.grad_accum=" + figure(one.grad_accum));
      tried.push_back(suggestion(one, budget, description + " + micro-batch 1", set));
    }
  } else if (!inputs.gradient_checkpointing || inputs.micro_batch_pairs > 1) {
    PlanInputs both = with_micro_batch(bf16, 1);
    both.gradient_checkpointing = true;
    std::vector<std::string> set = {
        "train.gradient_checkpointing=true",
        "train.micro_batch_pairs=1",
        "train.grad_accum=" + figure(both.grad_accum)};
    if (inputs.dtype == TrainDtype::fp32)
      set.insert(set.begin(), "train.dtype=bf16");
    tried.push_back(suggestion(both, budget, "bf16 + gradient checkpointing + micro-batch 1", set));
  }
  // Those that fit first, each group smallest peak first.
  std::stable_sort(
      tried.begin(), tried.end(), [](const PlanSuggestion& a, const PlanSuggestion& b) {
        if (a.fits != b.fits)
          return a.fits;
        return false;
      });
  verdict.suggestions = std::move(tried);
  return verdict;
}

// ---- Sizes
// ----------------------------------------------------------------------------------------

int64_t parse_byte_size(const std::string& text, const std::string& what) {
  std::string s;
  for (char c : text) {
    if (!std::isspace(static_cast<unsigned char>(c)))
      s += c;
  }
  size_t end = 0;
  double value = 0;
  try {
    value = std::stod(s, &end);
  } catch (const std::exception&) {
    end = 0;
  }
  std::string unit = s.substr(end);
  for (char& c : unit)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const std::pair<const char*, double> units[] = {
      {"", 1},
      {"b", 1},
      {"k", 1024.0},
      {"kib", 1024.0},
      {"kb", 1e3},
      {"m", 1048576.0},
      {"mib", 1048576.0},
      {"mb", 1e6},
      {"g", 1073741824.0},
      {"gib", 1073741824.0},
      {"gb", 1e9},
      {"t", 1099511627776.0},
      {"tib", 1099511627776.0},
      {"tb", 1e12}};
  if (end > 0 && std::isfinite(value) && value > 0) {
    for (const auto& [name, factor] : units) {
      if (unit == name)
        return static_cast<int64_t>(std::llround(value * factor));
    }
  }
  throw UsageError(
      what + ": '" + text + "' is not a memory size", "write it as 24GiB, 80GB, 512MiB or bytes");
}

std::string format_bytes(int64_t bytes) {
  char text[64];
  const double b = static_cast<double>(bytes);
  if (b >= 1024.0 * 1024 * 1024)
    std::snprintf(text, sizeof text, "%.2f GiB", b / (1024.0 * 1024 * 1024));
  else if (b >= 1024.0 * 1024)
    std::snprintf(text, sizeof text, "%.1f MiB", b / (1024.0 * 1024));
  else
    std::snprintf(text, sizeof text, "%.1f KiB", b / 1024.0);
  return text;
}

int64_t available_host_memory_bytes() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  int64_t value = 0;
  std::string unit;
  while (in >> key >> value >> unit) {
    if (key == "MemAvailable:")
      return value * 1024;
  }
  return 0;
}

const char* plan_device_name(PlanDevice device) {
  return device == PlanDevice::cpu ? "cpu" : "cuda";
}

}  // namespace dpo
