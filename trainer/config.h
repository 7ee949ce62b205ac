// The run configuration of `dpo train`, `dpo eval`, `dpo check` and `dpo compare`: one typed
// struct per section, defaults only here. Read from a JSON file (comments allowed), overridden
// with `--set section.key=value`, validated before any work starts, written back into every run
// as JSON and hashed into caches and checkpoints. Every key is documented in docs/config.md.
// The JSON library stays in config.cpp.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "data/row_parser.h"
#include "dataloader/pair_encoder.h"
#include "dataloader/prepare.h"
#include "losses/loss_config.h"
#include "model/lora_config.h"
#include "trainer/lr_schedule.h"

namespace dpo {

enum class ModelDtype { auto_detect, fp32, bf16 };   // "auto" | "fp32" | "bf16"
enum class ReferenceMode { precomputed, live };      // "precomputed" | "live"
enum class DeviceChoice { auto_detect, cpu, cuda };  // "auto" | "cpu" | "cuda"
// "fp32" (alias "float32") | "bf16" (alias "bfloat16"): bf16 weights with fp32 master weights in
// the optimizer | "bf16_pure": bf16 throughout.
enum class TrainDtype { fp32, bf16, bf16_pure };

struct DataSection {
  std::string prepared;            // a prepared HDF5 file (`dpo prepare`); or
  std::vector<std::string> files;  // JSONL / JSON / .gz exports, prepared first
  double val_fraction = 0.1;       // share of prompts held out (by prompt hash)
  uint64_t seed = 0;               // seed of the train/val split
  int64_t max_length = 1024;       // tokens per sequence (prompt + completion); 0: no limit
  LengthPolicy length_policy = LengthPolicy::drop;
  BosPolicy add_bos = BosPolicy::as_template;  // dpo prepare --add-bos
  DataFormat format = DataFormat::auto_detect;
  // Provenance for validation (dpo validate --config, prepare) and per-slice evaluation
  // (held-out figures per slice in train, eval, check, compare and the report):
  // field paths as in data/row_fields.h ("metadata.rubric", "source"); docs/data-formats.md.
  std::vector<std::string> slice_by;                 // slice statistics by these fields
  std::string reviewer_field = "metadata.reviewer";  // reviewer id, for agreement
  std::string judge_field = "metadata.judge";        // "ai" marks an AI judgment
  std::string timestamp_field = "metadata.timestamp";
  double max_age_days = 365;  // stale_pairs above this age
};

struct TemplateSection {
  std::string source = "model";  // "model": the model folder's chat template; else a .jinja file
  std::string name = "default";  // which named template of the model folder
};

struct ModelSection {
  std::string path;                            // Hugging Face model folder of the initial policy
  ModelDtype dtype = ModelDtype::auto_detect;  // dtype of the weights written to checkpoints
};

struct ReferenceSection {
  ReferenceMode mode = ReferenceMode::precomputed;
  std::string path;  // reference model folder; empty: the initial policy (model.path)
  // Step-0 check: nats per completion token by which policy and reference may differ on the
  // first batch; 0: by dtype (fp32 1e-5, bf16 2e-2).
  double step0_tolerance = 0.0;
};

struct OptimSection {
  double lr = 1e-6;
  double weight_decay = 0.0;  // decoupled (AdamW)
  std::array<double, 2> betas{0.9, 0.999};
  double eps = 1e-8;
  int64_t warmup_steps = 0;
  ScheduleKind schedule = ScheduleKind::cosine;
  double min_lr_ratio = 0.0;
  double grad_clip = 1.0;  // max global gradient norm; 0: no clipping
};

struct TrainSection {
  DeviceChoice device = DeviceChoice::auto_detect;
  TrainDtype dtype = TrainDtype::fp32;
  int64_t micro_batch_pairs = 4;
  int64_t grad_accum = 1;
  int64_t max_steps = 0;  // optimizer steps; 0: `epochs` passes over the train split
  int64_t epochs = 1;
  uint64_t seed = 0;
  int64_t threads = 0;  // CPU threads; 0: all cores (the number used is recorded in the run)
  int64_t log_every_steps = 10;
  int64_t save_every_steps = 500;  // 0: only the final checkpoint
  int64_t keep_checkpoints = 2;
  int64_t max_bad_steps = 3;  // non-finite steps in a row before the run stops
  std::string out_dir = "runs/dpo";
  // Less work per pair (model/packed_batch.h), the same log-probs within float noise:
  // chosen and rejected run their shared prompt once, and a micro-batch's sequences are packed
  // into one row without padding.
  bool prefix_sharing = true;
  bool padding_free = true;
  // Recompute each decoder layer's activations in the backward pass (less memory, about a third
  // more compute).
  bool gradient_checkpointing = false;
  // LoRA runs: final/ is a PEFT adapter folder; with this, final-merged/ is also written, a Hugging
  // Face model folder with the adapters folded into the base weights.
  bool merge_lora = false;
};

struct EvalSection {
  int64_t every_steps = 100;  // 0: only at the end
  int64_t max_pairs = 0;      // held-out pairs per evaluation; 0: all
  int64_t batch_pairs = 8;    // pairs per forward pass when evaluating and scoring the reference
  int64_t patience = 3;
  double gap_threshold = 0.25;
  double displacement_threshold = 1.0;
  double train_accuracy_high = 0.95;
  double min_improvement = 0.005;
  // A healthy run cannot fire an alarm (docs/training.md): val accuracy at or above
  // saturated_accuracy cannot stall, val loss below near_zero_loss neither stalls nor rises, and
  // a val loss rise counts only above min_loss_rise (nats over `patience` evaluations).
  double saturated_accuracy = 0.98;
  double near_zero_loss = 0.05;
  double min_loss_rise = 0.01;
  bool early_stop = false;
};

struct CheckSection {
  int64_t steps = 60;
  double max_error_rate = 0.0;
  double min_train_accuracy = 0.6;
  double min_val_accuracy_margin = 0.05;
  bool allow_truncation = false;
  bool allow_alarms = false;
  // Per slice (data.slice_by): the least held-out accuracy of each slice with at least
  // min_slice_pairs pairs (0: no per-slice gate); smaller slices are reported, not judged.
  double min_slice_accuracy = 0.0;
  int64_t min_slice_pairs = 10;
  // Informativeness (reference margin per token, chosen - rejected): "easy" above easy_margin,
  // "ambiguous" within +-ambiguous_margin; a warning when either share reaches max_*_share.
  double easy_margin = 0.5;
  double ambiguous_margin = 0.02;
  double max_easy_share = 0.95;
  double max_ambiguous_share = 0.95;
};

struct CompareSection {
  int64_t steps = 60;
  double max_accuracy_drop = 0.02;
  int64_t noise_seeds = 2;
  double noise_multiplier = 2.0;
  int64_t max_error_increase = 0;
  double max_label_flip_fraction = 0.05;  // of the pairs matched between the versions
  // Per slice (data.slice_by): a regression when a slice's accuracy drops by more than
  // slice_noise_multiplier x its standard error (two proportions); slices with fewer than
  // min_slice_pairs common held-out pairs only warn.
  double slice_noise_multiplier = 2.0;
  int64_t min_slice_pairs = 20;
};

// Data-parallel runs (docs/distributed.md): how the ranks that torchrun, SLURM or
// `--nproc-per-node` started talk to each other. One process ignores this section.
struct DistributedSection {
  std::string backend = "auto";  // "auto" (nccl on CUDA, gloo on CPU) | "gloo" | "nccl"
  double timeout_s = 300;        // rendezvous, and how long a rank waits for a silent one
  double bucket_mib = 25;        // gradients are summed over the ranks in flat buckets of this size
};

struct Config {
  DataSection data;
  TemplateSection template_;  // JSON key "template"
  ModelSection model;
  ReferenceSection reference;
  LossConfig loss;
  OptimSection optim;
  TrainSection train;
  EvalSection eval;
  CheckSection check;
  CompareSection compare;
  LoraConfig lora;  // model/lora_config.h; docs/lora.md
  DistributedSection distributed;
};

// Parses JSON text (comments allowed) over the defaults. `origin` names the source in errors
// ("configs/x.json"). Throws ConfigError for malformed JSON, unknown keys and wrong types, each
// naming the key's path ("unknown key 'train.lrr' in configs/x.json").
Config config_from_json_text(const std::string& text, const std::string& origin);
// Reads a file (IoError when it cannot be read) and parses it as above.
Config load_config_file(const std::string& path);
// Applies one "section.key=value" override; value is parsed as JSON, else taken as a string.
// Throws UsageError when there is no '=' or no section, ConfigError as above.
void apply_override(Config& config, const std::string& assignment);
// Range and consistency checks; throws ConfigError naming the key and a fix.
void validate_config(const Config& config);
// The whole sequence of a command: defaults, then the file (when path is not empty), then each
// override in order, then validate_config.
Config load_config(const std::string& path, const std::vector<std::string>& overrides);

// The resolved config as pretty JSON with every key, in declaration order. Parsing it back
// gives the same config.
std::string to_json_text(const Config& config);
// SHA-256 (hex) of the compact JSON of the resolved config.
std::string config_hash(const Config& config);
// The chat-template spec for ChatTemplate::load / PrepareOptions::template_spec: empty for the
// model folder's default template, "<model.path>#<name>" for another named one of the model,
// else template.source (with "#<name>" when a name is given).
std::string template_spec(const Config& config);
// What `dpo prepare` is given for `files` under this config's data and template sections, with
// the tokenizer and template of the model folder `model_dir`, written to `out_path`.
PrepareOptions prepare_options_from_config(
    const Config& config,
    const std::vector<std::string>& files,
    const std::string& model_dir,
    const std::string& out_path);

// The data section's provenance keys (slice_by, reviewer/judge/timestamp fields, max_age_days)
// as validation options (dpo validate --config, dpo prepare).
void apply_data_provenance(const DataSection& data, ProvenanceOptions& provenance);

// Every key as "section.key", in declaration order.
std::vector<std::string> config_keys();

const char* schedule_kind_name(ScheduleKind kind);
const char* device_choice_name(DeviceChoice device);
const char* train_dtype_name(TrainDtype dtype);
const char* model_dtype_name(ModelDtype dtype);
const char* reference_mode_name(ReferenceMode mode);
const char* lora_init_name(LoraInit init);

}  // namespace dpo
