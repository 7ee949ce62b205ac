// `dpo score`: per pair, the summed completion log-probs and token counts of chosen and rejected
// under a model, written as JSONL, as a copy of the prepared file with the scores as its
// reference group, and/or into the prepared file itself as reference log-probs.
#pragma once

#include <cstdint>
#include <string>

#include "trainer/config.h"

namespace dpo {

class Communicator;

struct ScoreRequest {
  std::string model_dir;
  std::string prepared_path;
  std::string split = "all";  // train | val | all
  int64_t batch_pairs = 8;
  DeviceChoice device = DeviceChoice::auto_detect;
  TrainDtype dtype = TrainDtype::fp32;  // bf16 and bf16_pure both score in bfloat16
  int threads = 0;
  std::string out_path;          // .jsonl: one line per pair; .h5: a copy of the prepared file
                                 // with the scores as its reference group; empty: none
  bool write_reference = false;  // also store them in the prepared file as reference log-probs
  // A data-parallel run of the command (may be null): every rank scores its share of the pairs
  // (on CUDA device LOCAL_RANK), rank 0 writes the outputs, the others wait until it has.
  Communicator* communicator = nullptr;
};

struct ScoreSummary {
  int64_t pairs = 0;
  int64_t tokens = 0;  // tokens through the model (prompt counted for both sequences)
  double seconds = 0;
  std::string model_hash;
  std::string device;
};

ScoreSummary score_prepared(const ScoreRequest& request);

}  // namespace dpo
