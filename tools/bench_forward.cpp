// bench_forward: throughput (tokens/s) and peak memory of the sequence log-prob function
// (model/sequence_logprobs.h, what `dpo score` and the reference pass run) on randomly
// initialised presets, under no-grad.
//
//   bench_forward [--presets tiny,tinyllama-1b] [--device cpu|cuda] [--dtype fp32|bf16]
//                 [--threads 2] [--batch 4] [--seq 256] [--iters 3] [--runtime tuned|plain]
//                 [--layouts padded,shared,packed,shared+packed] [--backward 0|1]
//
// --layouts (less work per pair, model/packed_batch.h) turns the batch into batch/2 pairs: a
// prompt of 40% of --seq shared by rows i and batch/2 + i, completions of random lengths up to
// the rest, and times pair_sequence_logprobs in each layout (tokens/s: real tokens, a shared
// prompt counted for both sequences). --backward 1 times forward + backward of the summed
// log-probs (the training step's model work) instead of the no-grad forward.
//
// --runtime plain runs with LibTorch's defaults on Debian (at::set_num_threads only); tuned (the
// default, what `dpo` does) adds model/cpu_runtime.h (OpenBLAS kept at one thread) and
// core/malloc_tuning.h (glibc malloc thresholds raised). Run both to see the ratio.
//
// Peak memory: the process's resident set high-water mark (VmHWM in /proc/self/status) and,
// on CUDA, the caching allocator's peak allocated bytes.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/malloc_tuning.h"
#include "model/checkpoint.h"
#include "model/cpu_runtime.h"
#include "model/llama.h"
#include "model/model_config.h"
#include "model/packed_batch.h"
#include "model/runtime_info.h"
#include "model/sequence_logprobs.h"

namespace {

std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ','))
    out.push_back(item);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string presets = "tiny,tinyllama-1b", device_name = "cpu", dtype_name = "fp32";
  std::string runtime = "tuned";
  int threads = 2, batch = 4, seq = 256, iters = 3, backward = 0;
  std::string layouts;  // empty: the classic padded batch (completion = second half)
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--presets")
      presets = value;
    else if (flag == "--device")
      device_name = value;
    else if (flag == "--dtype")
      dtype_name = value;
    else if (flag == "--threads")
      threads = std::atoi(value.c_str());
    else if (flag == "--batch")
      batch = std::atoi(value.c_str());
    else if (flag == "--seq")
      seq = std::atoi(value.c_str());
    else if (flag == "--iters")
      iters = std::atoi(value.c_str());
    else if (flag == "--runtime" && (value == "tuned" || value == "plain"))
      runtime = value;
    else if (flag == "--layouts")
      layouts = value;
    else if (flag == "--backward")
      backward = std::atoi(value.c_str());
    else {
      std::fprintf(
          stderr,
          "unknown flag %s (see the comment at the top of bench_forward.cpp)\n",
          flag.c_str());
      return 2;
    }
  }
  try {
    if (runtime == "tuned") {
      dpo::keep_freed_memory_in_heap();
      dpo::set_cpu_threads(threads);
    } else {
      at::set_num_threads(threads);
    }
    const at::Device device(device_name == "cuda" ? at::kCUDA : at::kCPU);
    const at::ScalarType dtype = dpo::parse_model_dtype(dtype_name);
    std::printf(
        "device %s, dtype %s, %d CPU threads, %s runtime (OpenBLAS threads: %d), batch %d x %d "
        "tokens (completion = second half), %d timed iterations after 1 warm-up\n",
        device_name.c_str(),
        dtype_name.c_str(),
        threads,
        runtime.c_str(),
        dpo::openblas_threads(),
        batch,
        seq,
        iters);
    std::printf(
        "%-14s %14s %12s %12s %14s %14s\n",
        "preset",
        "parameters",
        "tokens/s",
        "s/iter",
        "VmHWM MiB",
        "CUDA peak MiB");
    for (const std::string& preset : split(presets)) {
      dpo::ModelConfig config = dpo::model_config_preset(preset, 32000);
      dpo::LlamaForCausalLM model(config, at::TensorOptions().dtype(dtype).device(device));
      dpo::init_random_weights(*model, 1);
      at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(2);
      at::Tensor ids = at::randint(config.vocab_size, {batch, seq}, gen, at::kLong).to(device);
      at::Tensor start = at::full({batch}, seq / 2, at::kLong),
                 length = at::full({batch}, seq - seq / 2, at::kLong);
      if (!layouts.empty()) {
        // Pairs: rows i and batch/2 + i share a prompt of 40% of seq; completions of random
        // lengths in [1, seq - prompt].
        const int64_t prompt = std::max<int64_t>(1, seq * 2 / 5), pairs = batch / 2;
        ids = ids.cpu();
        for (int64_t i = 0; i < pairs; ++i)
          ids[pairs + i].narrow(0, 0, prompt).copy_(ids[i].narrow(0, 0, prompt));
        start = at::full({batch}, prompt, at::kLong);
        length = at::randint(1, seq - prompt + 1, {batch}, gen, at::kLong);
      }
      const double real_tokens = (start + length).sum().item<double>();
      for (const std::string& name :
           layouts.empty() ? std::vector<std::string>{""} : split(layouts)) {
        dpo::PairLayout layout{false, false};
        if (name == "shared" || name == "shared+packed")
          layout.prefix_sharing = true;
        if (name == "packed" || name == "shared+packed")
          layout.padding_free = true;
        auto run = [&] {
          if (backward) {
            model->zero_grad();
            dpo::SequenceLogprobs out =
                dpo::pair_sequence_logprobs(*model, ids, start, length, layout);
            out.sum.sum().backward();
            return out.sum.sum().item<double>();
          }
          at::NoGradGuard no_grad;
          dpo::SequenceLogprobs out =
              name.empty() ? dpo::sequence_logprobs(*model, ids, start, length)
                           : dpo::pair_sequence_logprobs(*model, ids, start, length, layout);
          return out.sum.sum().item<double>();  // copies to the host: waits for the device
        };
        run();
        auto begin = std::chrono::steady_clock::now();
        for (int i = 0; i < iters; ++i)
          run();
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
        std::printf(
            "%-14s %14lld %12.1f %12.3f %14.1f %14.1f%s%s\n",
            preset.c_str(),
            static_cast<long long>(config.num_parameters()),
            (name.empty() ? double(batch) * seq : real_tokens) * iters / seconds,
            seconds / iters,
            dpo::peak_memory_mib(at::Device(at::kCPU)),
            device.is_cuda() ? dpo::peak_memory_mib(device) : 0.0,
            name.empty() ? "" : "  ",
            name.c_str());
        std::fflush(stdout);
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_forward: %s\n", e.what());
    return 2;
  }
  return 0;
}
