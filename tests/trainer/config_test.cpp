// The run configuration: defaults, reading JSON with comments, unknown keys and wrong types
// named by path, --set overrides, range checks, the JSON round trip and hash, the shipped
// configs/ and the documentation of every key.
#include "trainer/config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "tests/support/test_support.h"

namespace dpo {
namespace {

namespace fs = std::filesystem;

// The repository root, from this file's path (tests/trainer/config_test.cpp).
fs::path source_root() {
  return fs::path(__FILE__).parent_path().parent_path().parent_path();
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return std::string(e.what());
  }
  return "(no error)";
}

TEST(Config, DefaultsAreValid) {
  const Config c;
  EXPECT_NO_THROW(validate_config(c));
  EXPECT_EQ(c.loss.types, std::vector<LossType>{LossType::sigmoid});
  EXPECT_EQ(c.reference.mode, ReferenceMode::precomputed);
  EXPECT_EQ(c.train.max_bad_steps, 3);
}

TEST(Config, ReadsJsonWithCommentsOverTheDefaults) {
  const Config c = config_from_json_text(
      R"({
    // line comment
    "optim": {"lr": 5e-7, "schedule": "linear", "betas": [0.8, 0.99]},  /* block */
    "loss": {"types": ["sigmoid", "sft"], "weights": [1, 0.5], "beta": 0.2},
    "train": {"device": "cpu", "dtype": "bf16", "max_steps": 7, "seed": 3},
    "template": {"source": "chat.jinja"},
    "data": {"files": ["a.jsonl", "b.jsonl"], "length_policy": "truncate_prompt_left",
             "format": "conversational"}
  })",
      "inline");
  EXPECT_EQ(c.optim.lr, 5e-7);
  EXPECT_EQ(c.optim.schedule, ScheduleKind::linear);
  EXPECT_EQ(c.optim.betas[0], 0.8);
  EXPECT_EQ(c.optim.warmup_steps, 0);  // untouched default
  EXPECT_EQ(c.loss.types, (std::vector<LossType>{LossType::sigmoid, LossType::sft}));
  EXPECT_EQ(c.loss.weights, (std::vector<double>{1.0, 0.5}));
  EXPECT_EQ(c.loss.beta, 0.2);
  EXPECT_EQ(c.train.device, DeviceChoice::cpu);
  EXPECT_EQ(c.train.dtype, TrainDtype::bf16);
  EXPECT_EQ(c.train.max_steps, 7);
  EXPECT_EQ(c.train.seed, 3u);
  EXPECT_EQ(c.template_.source, "chat.jinja");
  EXPECT_EQ(c.data.files.size(), 2u);
  EXPECT_EQ(c.data.length_policy, LengthPolicy::truncate_prompt_left);
  EXPECT_EQ(c.data.format, DataFormat::conversational);
}

TEST(Config, UnknownKeysAreRejectedWithTheirPath) {
  const std::string e =
      error_of([] { config_from_json_text(R"({"train": {"lrr": 1}})", "configs/x.json"); });
  EXPECT_NE(e.find("unknown key 'train.lrr' in configs/x.json"), std::string::npos) << e;
  EXPECT_NE(e.find("micro_batch_pairs"), std::string::npos) << e;  // the hint lists the keys
  const std::string s = error_of([] { config_from_json_text(R"({"trian": {}})", "x.json"); });
  EXPECT_NE(s.find("unknown section 'trian' in x.json"), std::string::npos) << s;
}

TEST(Config, WrongTypesAreRejectedWithTheirPath) {
  auto err = [](const std::string& text) {
    return error_of([&] { config_from_json_text(text, "f.json"); });
  };
  EXPECT_NE(
      err(R"({"optim": {"lr": "fast"}})")
          .find("'optim.lr' in f.json must be a number, got a string"),
      std::string::npos);
  EXPECT_NE(
      err(R"({"train": {"max_steps": 1.5}})")
          .find("'train.max_steps' in f.json must be an integer"),
      std::string::npos);
  EXPECT_NE(err(R"({"train": {"seed": -1}})").find("'train.seed'"), std::string::npos);
  EXPECT_NE(err(R"({"eval": {"early_stop": 1}})").find("'eval.early_stop'"), std::string::npos);
  EXPECT_NE(
      err(R"({"loss": {"types": ["sigmoid", 3]}})").find("'loss.types[1]'"), std::string::npos);
  EXPECT_NE(
      err(R"({"loss": {"types": ["kto"]}})")
          .find("'loss.types[0]' in f.json: unknown loss type 'kto'"),
      std::string::npos);
  EXPECT_NE(
      err(R"({"optim": {"schedule": "step"}})")
          .find("'optim.schedule' in f.json: unknown value 'step'"),
      std::string::npos);
  EXPECT_NE(err(R"({"optim": {"betas": [0.9]}})").find("'optim.betas'"), std::string::npos);
  EXPECT_NE(
      err(R"({"data": {"length_policy": "cut"}})").find("'data.length_policy'"), std::string::npos);
  EXPECT_NE(err(R"({"train": 3})").find("'train' in f.json must be an object"), std::string::npos);
  EXPECT_NE(err("[1]").find("must be a JSON object"), std::string::npos);
  EXPECT_NE(err(R"({"train": {)").find("cannot parse f.json"), std::string::npos);
}

TEST(Config, OverridesParseJsonAndFallBackToStrings) {
  Config c;
  apply_override(c, "optim.lr=5e-7");
  apply_override(c, "optim.schedule=linear");  // not JSON: taken as the string "linear"
  apply_override(c, "loss.types=[\"ipo\",\"sft\"]");
  apply_override(c, "data.prepared=runs/data v2.h5");
  apply_override(c, "template.source=\"quoted.jinja\"");
  apply_override(c, "eval.early_stop=true");
  EXPECT_EQ(c.optim.lr, 5e-7);
  EXPECT_EQ(c.optim.schedule, ScheduleKind::linear);
  EXPECT_EQ(c.loss.types, (std::vector<LossType>{LossType::ipo, LossType::sft}));
  EXPECT_EQ(c.data.prepared, "runs/data v2.h5");
  EXPECT_EQ(c.template_.source, "quoted.jinja");
  EXPECT_TRUE(c.eval.early_stop);
  EXPECT_EQ(c.optim.warmup_steps, 0);  // other keys untouched
}

TEST(Config, BadOverridesAreRejected) {
  Config c;
  EXPECT_THROW(apply_override(c, "optim.lr"), UsageError);
  EXPECT_THROW(apply_override(c, "lr=1"), UsageError);
  const std::string e = error_of([&] { apply_override(c, "train.lrr=1"); });
  EXPECT_NE(e.find("unknown key 'train.lrr' in --set train.lrr=1"), std::string::npos) << e;
  EXPECT_THROW(apply_override(c, "train.max_steps=ten"), ConfigError);
}

TEST(Config, DuplicateKeysAreRefusedWithFileKeyAndLine) {
  const std::string e = error_of([] {
    config_from_json_text(
        "{\n  \"train\": {\n    \"max_steps\": 3,\n    \"max_steps\": 40\n  }\n}", "runs/c.json");
  });
  EXPECT_NE(
      e.find("cannot parse runs/c.json as JSON: duplicate key 'train.max_steps' at line 4, "
             "column 5 (first at line 3, column 5)"),
      std::string::npos)
      << e;
  // A section given twice is a duplicate too (the second would replace the whole first one).
  const std::string s = error_of([] {
    config_from_json_text(R"({"optim": {"lr": 1e-6}, "train": {}, "optim": {}})", "c.json");
  });
  EXPECT_NE(s.find("duplicate key 'optim' at line 1, column 38"), std::string::npos) << s;
  // Comments do not hide a duplicate.
  const std::string c = error_of([] {
    config_from_json_text(
        "{\"eval\": {/* a */ \"every_steps\": 1, // b\n\"every_steps\": 2}}", "c");
  });
  EXPECT_NE(c.find("duplicate key 'eval.every_steps' at line 2, column 1"), std::string::npos) << c;
}

TEST(Config, SyntaxErrorsNameTheLineAndTheReason) {
  const std::string bom = error_of([] {
    config_from_json_text("{\"train\": {\"seed\": 1},\n\xEF\xBB\xBF\"eval\": {}}", "c.json");
  });
  EXPECT_NE(bom.find("found byte 0xEF (a UTF-8 BOM) at line 2, column 1"), std::string::npos)
      << bom;
  // A BOM at the very start is accepted, as before.
  EXPECT_EQ(config_from_json_text("\xEF\xBB\xBF{\"train\": {\"seed\": 4}}", "c").train.seed, 4u);
  const std::string overflow =
      error_of([] { config_from_json_text(R"({"optim": {"lr": 1e400}})", "c.json"); });
  EXPECT_NE(overflow.find("number 1e400 is out of range"), std::string::npos) << overflow;
  EXPECT_NE(overflow.find("line 1, column 18"), std::string::npos) << overflow;
  const std::string surrogate =
      error_of([] { config_from_json_text(R"({"train": {"out_dir": "runs/\ud800"}})", "c.json"); });
  EXPECT_NE(surrogate.find("lone surrogate \\ud800"), std::string::npos) << surrogate;
  const std::string comma =
      error_of([] { config_from_json_text("{\"train\": {\"seed\": 1,}}", "c.json"); });
  EXPECT_NE(comma.find("a trailing comma before '}'"), std::string::npos) << comma;
}

TEST(Config, OverrideValuesThatCannotBeReadAreConfigErrors) {
  Config c;
  // Out of range: today's "internal error" (nlohmann's out_of_range) becomes a ConfigError.
  std::string e = error_of([&] { apply_override(c, "optim.lr=1e400"); });
  EXPECT_NE(e.find("--set 'optim.lr=1e400'"), std::string::npos) << e;
  EXPECT_NE(e.find("out of range"), std::string::npos) << e;
  EXPECT_THROW(apply_override(c, "optim.lr=1e400"), ConfigError);
  EXPECT_THROW(apply_override(c, "optim.lr=-1e999"), ConfigError);
  // Meant as JSON but malformed: the reason, not "must be an array, got a string".
  e = error_of([&] { apply_override(c, "loss.types=[\"sigmoid\",]"); });
  EXPECT_NE(e.find("a trailing comma before ']'"), std::string::npos) << e;
  EXPECT_THROW(apply_override(c, "loss.types={\"a\": 1, \"a\": 2}"), ConfigError);
  EXPECT_THROW(apply_override(c, "template.source=\"open"), ConfigError);
  EXPECT_THROW(apply_override(c, "train.max_steps=01"), ConfigError);
  // An integer too large for 64 bits reads as a number and is refused by type, not by a crash.
  e = error_of([&] { apply_override(c, "train.max_steps=99999999999999999999"); });
  EXPECT_NE(e.find("'train.max_steps'"), std::string::npos) << e;
  // Bytes that are not UTF-8 would make the config unwritable later: refused here.
  e = error_of([&] { apply_override(c, "train.out_dir=runs/\xff"); });
  EXPECT_NE(e.find("not valid UTF-8 (byte 5)"), std::string::npos) << e;
  EXPECT_NE(e.find("runs/\\xff"), std::string::npos) << e;  // echoed escaped
  // Control characters in an echoed value are escaped.
  e = error_of([&] { apply_override(c, "optim.schedule=\x1b[2J"); });
  EXPECT_NE(e.find("\\x1b[2J"), std::string::npos) << e;
  EXPECT_EQ(e.find('\x1b'), std::string::npos) << e;
  // Bare words still read as strings.
  apply_override(c, "data.prepared=-dash/start");
  EXPECT_EQ(c.data.prepared, "-dash/start");
}

TEST(Config, ValidatorChecksRanges) {
  auto invalid = [](const std::string& assignment, const std::string& key) {
    const std::string e = error_of([&] { load_config("", {assignment}); });
    EXPECT_NE(e.find(key), std::string::npos) << assignment << " -> " << e;
  };
  invalid("loss.beta=0", "loss.beta");
  invalid("optim.lr=0", "optim.lr");
  invalid("optim.lr=-1e-5", "optim.lr");
  invalid("data.val_fraction=1.5", "data.val_fraction");
  invalid("optim.min_lr_ratio=2", "optim.min_lr_ratio");
  invalid("optim.betas=[0.9, 1.0]", "optim.betas[1]");
  invalid("loss.weights=[1, 2]", "loss.weights");  // one type, two weights
  invalid("loss.label_smoothing=0.5", "loss.label_smoothing");
  invalid("train.micro_batch_pairs=0", "train.micro_batch_pairs");
  invalid("train.keep_checkpoints=0", "train.keep_checkpoints");
  invalid("check.max_error_rate=-0.1", "check.max_error_rate");
  invalid("check.min_val_accuracy_margin=0.6", "check.min_val_accuracy_margin");
  invalid("compare.max_accuracy_drop=3", "compare.max_accuracy_drop");
  invalid("compare.max_label_flip_fraction=1.5", "compare.max_label_flip_fraction");
  Config both;
  both.data.prepared = "a.h5";
  both.data.files = {"a.jsonl"};
  EXPECT_THROW(validate_config(both), ConfigError);
  EXPECT_NO_THROW(load_config("", {"loss.types=[\"sigmoid\",\"sft\"]", "loss.weights=[1, 0.1]"}));
}

// The provenance keys of the data section: read, checked (a path that cannot name a field is a
// ConfigError naming the key), handed to validation.
TEST(Config, DataProvenanceKeys) {
  const Config c = config_from_json_text(
      R"({"data": {"slice_by": ["metadata.rubric", "source"], "reviewer_field": "metadata.annotator",
                   "judge_field": "metadata.judge", "timestamp_field": "created_at",
                   "max_age_days": 90}})",
      "inline");
  EXPECT_EQ(c.data.slice_by, (std::vector<std::string>{"metadata.rubric", "source"}));
  EXPECT_EQ(c.data.reviewer_field, "metadata.annotator");
  EXPECT_EQ(c.data.timestamp_field, "created_at");
  EXPECT_EQ(c.data.max_age_days, 90.0);
  EXPECT_NO_THROW(validate_config(c));
  ProvenanceOptions provenance;
  apply_data_provenance(c.data, provenance);
  EXPECT_EQ(provenance.slice_by, c.data.slice_by);
  EXPECT_EQ(provenance.reviewer_field, "metadata.annotator");
  EXPECT_EQ(provenance.max_age_days, 90.0);
  EXPECT_EQ(Config().data.reviewer_field, "metadata.reviewer");
  EXPECT_TRUE(Config().data.slice_by.empty());

  Config nested;  // a field inside a nested object
  nested.data.slice_by = {"metadata.review.rubric"};
  EXPECT_NO_THROW(validate_config(nested));
  Config bad;
  bad.data.slice_by = {"metadata.a..b"};
  const std::string e = error_of([&] { validate_config(bad); });
  EXPECT_NE(e.find("data.slice_by 'metadata.a..b' does not name a field"), std::string::npos) << e;
  Config old;
  old.data.max_age_days = 0;
  EXPECT_NE(error_of([&] { validate_config(old); }).find("data.max_age_days"), std::string::npos);
}

TEST(Config, JsonRoundTripKeepsEveryValue) {
  Config c;
  c.data.files = {"x.jsonl"};
  c.data.seed = 12345678901234ull;
  c.loss.types = {LossType::discopop, LossType::sft};
  c.loss.weights = {1.0, 0.3};
  c.optim.lr = 3.3e-7;
  c.optim.schedule = ScheduleKind::constant;
  c.train.dtype = TrainDtype::bf16_pure;
  c.reference.mode = ReferenceMode::live;
  c.model.dtype = ModelDtype::bf16;
  c.data.format = DataFormat::sharegpt;
  c.check.allow_truncation = true;
  const std::string text = to_json_text(c);
  const Config back = config_from_json_text(text, "round trip");
  EXPECT_EQ(to_json_text(back), text);
  EXPECT_EQ(config_hash(back), config_hash(c));
  EXPECT_EQ(back.optim.lr, 3.3e-7);
  EXPECT_EQ(back.data.seed, 12345678901234ull);
  EXPECT_NE(text.find("\"schedule\": \"constant\""), std::string::npos);
  EXPECT_NE(text.find("\"template\": {"), std::string::npos);
}

TEST(Config, TrainDtypeAcceptsTheTorchNamesAsAliases) {
  // bfloat16 is bf16 (fp32 master weights), float32 is fp32: the same resolved config, written
  // back under the short name.
  const Config alias = load_config("", {"train.dtype=bfloat16"});
  const Config bf16 = load_config("", {"train.dtype=bf16"});
  EXPECT_EQ(alias.train.dtype, TrainDtype::bf16);
  EXPECT_EQ(to_json_text(alias), to_json_text(bf16));
  EXPECT_EQ(config_hash(alias), config_hash(bf16));
  EXPECT_EQ(load_config("", {"train.dtype=float32"}).train.dtype, TrainDtype::fp32);
  const Config file = config_from_json_text(R"({"train": {"dtype": "bfloat16"}})", "x.json");
  EXPECT_EQ(file.train.dtype, TrainDtype::bf16);
  try {
    load_config("", {"train.dtype=float16"});
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("bf16_pure"), std::string::npos) << message;
    EXPECT_NE(message.find("bfloat16"), std::string::npos) << message;
  }
}

TEST(Config, EvalBatchPairsAndStep0ToleranceKeepTheTrainersDefaults) {
  const Config c;
  EXPECT_EQ(c.eval.batch_pairs, 8);
  EXPECT_EQ(c.reference.step0_tolerance, 0.0);  // by dtype
  EXPECT_THROW(load_config("", {"eval.batch_pairs=0"}), ConfigError);
  EXPECT_THROW(load_config("", {"reference.step0_tolerance=-1"}), ConfigError);
  EXPECT_EQ(load_config("", {"reference.step0_tolerance=0.5"}).reference.step0_tolerance, 0.5);
}

TEST(Config, HashChangesWithAnyValue) {
  const Config a;
  Config b;
  b.train.seed = 1;
  EXPECT_EQ(config_hash(a), config_hash(Config{}));
  EXPECT_NE(config_hash(a), config_hash(b));
  EXPECT_EQ(config_hash(a).size(), 64u);
}

TEST(Config, KeysAreListedPerSection) {
  const std::vector<std::string> keys = config_keys();
  EXPECT_EQ(keys.front(), "data.prepared");
  EXPECT_NE(std::find(keys.begin(), keys.end(), "optim.lr"), keys.end());
  EXPECT_NE(std::find(keys.begin(), keys.end(), "loss.discopop_tau"), keys.end());
  EXPECT_NE(std::find(keys.begin(), keys.end(), "compare.noise_seeds"), keys.end());
  // Every key appears in the written JSON.
  const std::string text = to_json_text(Config{});
  for (const auto& key : keys) {
    EXPECT_NE(text.find("\"" + key.substr(key.find('.') + 1) + "\""), std::string::npos) << key;
  }
}

TEST(Config, LoadConfigReadsAFileThenOverrides) {
  testing::TempDir dir;
  const std::string path = dir.file("c.json");
  testing::write_file(path, R"({"optim": {"lr": 1e-5}, "train": {"seed": 4}})");
  const Config c = load_config(path, {"train.seed=5"});
  EXPECT_EQ(c.optim.lr, 1e-5);
  EXPECT_EQ(c.train.seed, 5u);
  EXPECT_THROW(load_config(dir.file("missing.json"), {}), IoError);
}

// train, check and compare prepare JSONL data with the data and template sections of the config.
TEST(Config, PrepareOptionsFollowTheDataAndTemplateSections) {
  const Config c = load_config(
      "",
      {"data.max_length=256",
       "data.length_policy=\"truncate_completion\"",
       "data.val_fraction=0.2",
       "data.seed=9",
       "template.source=\"chatml\""});
  PrepareOptions p =
      prepare_options_from_config(c, {"a.jsonl", "b.jsonl"}, "model", "out/prepared.h5");
  EXPECT_EQ(p.files, (std::vector<std::string>{"a.jsonl", "b.jsonl"}));
  EXPECT_EQ(p.model_dir, "model");
  EXPECT_EQ(p.template_spec, "chatml");
  EXPECT_EQ(p.max_length, 256);
  EXPECT_EQ(p.length_policy, LengthPolicy::truncate_completion);
  EXPECT_DOUBLE_EQ(p.validate.val_fraction, 0.2);
  EXPECT_EQ(p.validate.seed, 9u);
  EXPECT_EQ(p.out_path, "out/prepared.h5");
  // The model's own template: no spec, so prepare reads the model folder's tokenizer_config.json.
  EXPECT_EQ(
      prepare_options_from_config(load_config("", {}), {}, "model", "x.h5").template_spec, "");
}

TEST(Config, EveryShippedConfigLoadsAndValidates) {
  int count = 0;
  for (const auto& entry : fs::directory_iterator(source_root() / "configs")) {
    if (entry.path().extension() != ".json")
      continue;
    SCOPED_TRACE(entry.path().string());
    EXPECT_NO_THROW(load_config(entry.path().string(), {}));
    ++count;
  }
  EXPECT_GE(count, 4);
  const Config dpo = load_config((source_root() / "configs/dpo_default.json").string(), {});
  EXPECT_EQ(dpo.optim.lr, 5e-7);
  EXPECT_EQ(dpo.loss.beta, 0.1);
  EXPECT_EQ(dpo.optim.schedule, ScheduleKind::cosine);
  EXPECT_EQ(dpo.train.dtype, TrainDtype::bf16);
  const Config sft = load_config((source_root() / "configs/demo_sft.json").string(), {});
  EXPECT_EQ(sft.loss.types, std::vector<LossType>{LossType::sft});
  EXPECT_EQ(sft.train.device, DeviceChoice::cpu);
}

TEST(Config, EveryKeyIsDocumented) {
  std::ifstream in(source_root() / "docs/config.md");
  ASSERT_TRUE(in) << "docs/config.md is missing";
  std::stringstream text;
  text << in.rdbuf();
  for (const auto& key : config_keys()) {
    EXPECT_NE(text.str().find("`" + key + "`"), std::string::npos)
        << key << " is not in docs/config.md";
  }
}

}  // namespace
}  // namespace dpo
