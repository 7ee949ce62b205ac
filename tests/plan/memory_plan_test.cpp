// The memory plan's arithmetic (plan/memory_plan.h) on shapes whose figures are known by hand:
// Llama-3-8B (hidden 4096, 32 layers, 32 heads, 8 KV heads, intermediate 14336, vocab 128256)
// and the presets.
#include "plan/memory_plan.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace dpo {
namespace {

ModelConfig llama3_8b() {
  ModelConfig m;
  m.hidden_size = 4096;
  m.intermediate_size = 14336;
  m.num_hidden_layers = 32;
  m.num_attention_heads = 32;
  m.num_key_value_heads = 8;
  m.head_dim = 128;
  m.vocab_size = 128256;
  m.max_position_embeddings = 8192;
  return m;
}

PlanInputs cuda_inputs(const ModelConfig& model, TrainDtype dtype, int64_t pairs, int64_t length) {
  PlanInputs in;
  in.model = model;
  in.device = PlanDevice::cuda;
  in.sdpa = true;
  in.dtype = dtype;
  in.micro_batch_pairs = pairs;
  in.micro_batch = worst_case_micro_batch(pairs, length, PlanLayout{});
  in.eval_batch = worst_case_micro_batch(8, length, PlanLayout{});
  return in;
}

int64_t term(const MemoryPlan& plan, const std::string& name) {
  for (const PlanTerm& t : plan.terms) {
    if (t.name == name)
      return t.bytes;
  }
  ADD_FAILURE() << "no term " << name;
  return -1;
}

constexpr int64_t kGiB = int64_t{1} << 30;

TEST(MemoryPlan, FullBf16TrainingOfLlama3_8BHolds16BytesPerParameterBeforeActivations) {
  const PlanInputs in = cuda_inputs(llama3_8b(), TrainDtype::bf16, 1, 1024);
  const MemoryPlan plan = estimate_memory(in);
  // 2 * 128256 * 4096 (embeddings, lm_head) + 32 layers * (attention 4096 * (4096 + 2 * 1024 +
  // 4096) + MLP 3 * 4096 * 14336 + 2 norms 4096) + the final norm = 8,030,261,248.
  const int64_t p = 8030261248;
  EXPECT_EQ(plan.total_parameters, p);
  EXPECT_EQ(term(plan, "weights"), 2 * p);          // bf16
  EXPECT_EQ(term(plan, "gradients"), 2 * p);        // bf16
  EXPECT_EQ(term(plan, "optimizer state"), 8 * p);  // fp32 exp_avg, exp_avg_sq
  EXPECT_EQ(term(plan, "master weights"), 4 * p);   // fp32 masters
  EXPECT_EQ(term(plan, "reference model"), 0);      // precomputed
  EXPECT_GT(plan.peak_bytes, 16 * p);
  EXPECT_EQ(plan.peak_phase, "backward");
}

TEST(MemoryPlan, LoraR16OnAllLinearLayersOfLlama3_8BTrains42MillionParametersIn24GiB) {
  PlanInputs in = cuda_inputs(llama3_8b(), TrainDtype::bf16, 1, 1024);
  in.gradient_checkpointing = true;
  in.lora.enabled = true;
  in.lora.rank = 16;
  in.lora.target_modules = {"all-linear"};
  const MemoryPlan plan = estimate_memory(in);
  // Per layer r * (in + out): q 8192, k 5120, v 5120, o 8192, gate/up/down 18432 each = 81920;
  // x 16 x 32 layers = 41,943,040 (what PEFT prints for this model).
  const int64_t adapters = 41943040;
  EXPECT_EQ(plan.trainable_parameters, adapters);
  EXPECT_EQ(term(plan, "weights"), 2 * 8030261248 + 4 * adapters);  // bf16 base, fp32 adapters
  EXPECT_EQ(term(plan, "gradients"), 4 * adapters);
  EXPECT_EQ(term(plan, "optimizer state"), 8 * adapters);
  EXPECT_EQ(term(plan, "master weights"), 0);  // the adapters are fp32 already
  EXPECT_LT(plan.peak_bytes, 24 * kGiB);
}

TEST(MemoryPlan, LiveReferenceIsASecondModelWithoutLoraAndNothingWithIt) {
  PlanInputs in = cuda_inputs(llama3_8b(), TrainDtype::bf16, 1, 512);
  in.reference_mode = ReferenceMode::live;
  in.separate_reference = true;
  EXPECT_EQ(term(estimate_memory(in), "reference model"), 2 * 8030261248);
  in.lora.enabled = true;
  EXPECT_EQ(term(estimate_memory(in), "reference model"), 0);  // adapters off
}

TEST(MemoryPlan, GradientCheckpointingKeepsOneLayerInputPerLayer) {
  ModelConfig tiny = model_config_preset("tiny", 800);
  PlanInputs in = cuda_inputs(tiny, TrainDtype::fp32, 4, 384);
  in.eval_batch = worst_case_micro_batch(1, 384, PlanLayout{});  // the backward is the peak
  const MemoryPlan plain = estimate_memory(in);
  in.gradient_checkpointing = true;
  const MemoryPlan checkpointed = estimate_memory(in);
  EXPECT_EQ(plain.activations_bytes, checkpointed.activations_bytes);
  EXPECT_EQ(plain.activations_checkpointed_bytes, checkpointed.activations_checkpointed_bytes);
  EXPECT_LT(checkpointed.activations_checkpointed_bytes, plain.activations_bytes / 2);
  EXPECT_EQ(term(checkpointed, "activations"), checkpointed.activations_checkpointed_bytes);
  EXPECT_EQ(term(plain, "activations"), plain.activations_bytes);
  EXPECT_LT(checkpointed.peak_bytes, plain.peak_bytes);
}

// With checkpointing the one recomputed layer exists only during its own backward, not during
// the LM head's (the first node of the backward pass). On Llama-3-8B the head's transient (the
// logits chunk of a 128,256-entry vocabulary and the head's gradient) is the largest, so the
// checkpointed plan counts it less that layer. The layer's bytes follow from the two activation
// figures: n layers in full, n layer inputs [tokens, h] in bf16 plus one layer with checkpointing.
TEST(MemoryPlan, CheckpointingDoesNotCountTheRecomputedLayerDuringTheLmHeadsBackward) {
  PlanInputs in = cuda_inputs(llama3_8b(), TrainDtype::bf16, 1, 1024);
  const MemoryPlan plain = estimate_memory(in);
  in.gradient_checkpointing = true;
  const MemoryPlan checkpointed = estimate_memory(in);
  const int64_t n = 32, inputs = n * 4096 * 2 * in.micro_batch.tokens;
  const int64_t layer =
      (plain.activations_bytes - checkpointed.activations_checkpointed_bytes + inputs) / (n - 1);
  EXPECT_EQ(
      plain.activations_bytes - (n - 1) * layer + inputs,
      checkpointed.activations_checkpointed_bytes);  // the division was exact
  EXPECT_EQ(plain.peak_phase, "backward");
  EXPECT_EQ(checkpointed.peak_phase, "backward");
  EXPECT_EQ(
      term(checkpointed, "logits chunk / scratch"), term(plain, "logits chunk / scratch") - layer);
}

TEST(MemoryPlan, ActivationsGrowWithTheMicroBatchAndEagerAttentionWithTheSquareOfTheLength) {
  ModelConfig small = model_config_preset("small", 800);
  PlanInputs in = cuda_inputs(small, TrainDtype::fp32, 2, 256);
  in.sdpa = false;
  const int64_t two = estimate_memory(in).activations_bytes;
  in.micro_batch = worst_case_micro_batch(4, 256, PlanLayout{});
  const int64_t four = estimate_memory(in).activations_bytes;
  EXPECT_GT(four, 2 * two - two / 10);
  EXPECT_LT(four, 2 * two + two / 10);
  in.micro_batch = worst_case_micro_batch(2, 512, PlanLayout{});
  EXPECT_GT(estimate_memory(in).activations_bytes, 2 * two);  // the scores grow as length^2
}

TEST(MemoryPlan, WorstCaseMicroBatchFollowsTheLayout) {
  // Padded: 2B rows of L; shared prompts (one token) packed: B * (2L - 1) tokens in 2B views.
  MicroBatchShape padded = worst_case_micro_batch(4, 100, PlanLayout{false, false});
  EXPECT_EQ(padded.tokens, 800);
  EXPECT_EQ(padded.attention_rows, 8);
  EXPECT_EQ(padded.attention_length, 100);
  MicroBatchShape packed = worst_case_micro_batch(4, 100, PlanLayout{true, true});
  EXPECT_EQ(packed.tokens, 4 * 199);
  EXPECT_EQ(packed.attention_rows, 8);
  EXPECT_EQ(packed.predicted, 8 * 99);
  MicroBatchShape shared_rows = worst_case_micro_batch(4, 100, PlanLayout{true, false});
  EXPECT_EQ(shared_rows.attention_rows, 4);
  EXPECT_EQ(shared_rows.attention_length, 199);
}

TEST(MemoryPlan, FullLlama3_8BDoesNotFit24GiBAndTheVerdictNamesSettingsThatDo) {
  const PlanInputs in = cuda_inputs(llama3_8b(), TrainDtype::bf16, 4, 1024);
  const PlanVerdict verdict = judge_memory_plan(in, 24 * kGiB);
  EXPECT_FALSE(verdict.fits);
  ASSERT_FALSE(verdict.suggestions.empty());
  EXPECT_TRUE(verdict.suggestions.front().fits);
  bool lora_fits = false;
  for (const PlanSuggestion& s : verdict.suggestions) {
    EXPECT_EQ(s.fits, s.plan.peak_bytes <= 24 * kGiB) << s.description;
    EXPECT_EQ(s.plan.peak_bytes, estimate_memory(s.inputs).peak_bytes) << s.description;
    if (s.fits && s.inputs.lora.enabled)
      lora_fits = true;
  }
  EXPECT_TRUE(lora_fits);
  // Those that fit come first.
  bool seen_misfit = false;
  for (const PlanSuggestion& s : verdict.suggestions) {
    EXPECT_FALSE(seen_misfit && s.fits) << s.description;
    seen_misfit = seen_misfit || !s.fits;
  }
}

TEST(MemoryPlan, ASmallerMicroBatchKeepsTheBatchThroughGradAccum) {
  ModelConfig small = model_config_preset("small", 800);
  PlanInputs in = cuda_inputs(small, TrainDtype::fp32, 8, 512);
  in.sdpa = false;
  const MemoryPlan plan = estimate_memory(in);
  // A budget between the micro-batch of 1's estimate and the 8's.
  const int64_t one = estimate_memory([&] {
                        PlanInputs i = in;
                        i.micro_batch_pairs = 1;
                        i.micro_batch = worst_case_micro_batch(1, 512, PlanLayout{});
                        return i;
                      }())
                          .peak_bytes;
  const PlanVerdict verdict = judge_memory_plan(in, (one + plan.peak_bytes) / 2);
  ASSERT_FALSE(verdict.fits);
  const PlanSuggestion& first = verdict.suggestions.front();
  ASSERT_TRUE(first.fits);
  ASSERT_LT(first.inputs.micro_batch_pairs, 8);
  EXPECT_EQ(first.inputs.micro_batch_pairs * first.inputs.grad_accum, 8);
  EXPECT_EQ(
      first.set.front(),
      "train.micro_batch_pairs=" + std::to_string(first.inputs.micro_batch_pairs));
}

TEST(MemoryPlan, TheCpuPlanCountsTheProcessBaselineAndTheData) {
  PlanInputs in = cuda_inputs(model_config_preset("tiny", 800), TrainDtype::fp32, 1, 64);
  in.device = PlanDevice::cpu;
  in.cpu_baseline_bytes = 100 << 20;
  in.data_bytes = 5 << 20;
  EXPECT_EQ(term(estimate_memory(in), "process baseline"), 105 << 20);
}

TEST(MemoryPlan, ByteSizesParseAsWritten) {
  EXPECT_EQ(parse_byte_size("24GiB", "x"), 24 * kGiB);
  EXPECT_EQ(parse_byte_size("24 GiB", "x"), 24 * kGiB);
  EXPECT_EQ(parse_byte_size("80GB", "x"), int64_t{80000000000});
  EXPECT_EQ(parse_byte_size("512MiB", "x"), int64_t{512} << 20);
  EXPECT_EQ(parse_byte_size("1.5g", "x"), 3 * kGiB / 2);
  EXPECT_EQ(parse_byte_size("1048576", "x"), int64_t{1} << 20);
  for (const char* bad : {"", "GiB", "-1GiB", "24 parsecs", "0"})
    EXPECT_THROW(parse_byte_size(bad, "--gpu-memory"), UsageError) << bad;
  EXPECT_EQ(format_bytes(int64_t{3} << 29), "1.50 GiB");
}

}  // namespace
}  // namespace dpo
