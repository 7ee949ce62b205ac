// The collectives of a data-parallel run, on LibTorch's own distributed engine (c10d): a TCPStore
// on rank 0 for the rendezvous, and a process group over Gloo (CPU tensors) or NCCL (CUDA
// tensors). A Communicator made with no world is a world of one, where every collective is the
// identity, so the training loop has one code path. No c10d header leaves communicator.cpp.
#pragma once

#include <ATen/core/Tensor.h>

#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "distributed/world_info.h"

namespace dpo {

// A collective failed or timed out (another rank stopped or cannot be reached), or the
// rendezvous failed. The CLI turns it into exit code 2 like every Error.
class DistributedError : public Error {
 public:
  using Error::Error;
};

struct CommunicatorOptions {
  std::string backend = "auto";  // "auto" (nccl for CUDA, gloo for CPU) | "gloo" | "nccl"
  double timeout_s = 300;        // rendezvous and every collective
  at::Device device = at::kCPU;  // this rank's training device
};

class Communicator {
 public:
  // A world of one.
  Communicator();
  // Joins `world` (world.world_size > 1): rank 0 listens on MASTER_PORT, every rank connects to
  // MASTER_ADDR:MASTER_PORT and the process group is formed. DistributedError naming the
  // address, the port and what went wrong (port in use, nobody listening, timeout).
  Communicator(const WorldInfo& world, const CommunicatorOptions& options);
  ~Communicator();
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  int rank() const {
    return world_.rank;
  }
  int world_size() const {
    return world_.world_size;
  }
  bool is_main() const {
    return world_.rank == 0;
  }
  const WorldInfo& world() const {
    return world_;
  }
  // "none" (one process) | "gloo" | "nccl".
  const std::string& backend() const {
    return backend_;
  }

  // Sums each tensor over the ranks, in place (any device: moved to the backend's and back).
  // `what` names the operation in errors ("the gradients of step 12").
  void all_reduce_sum(std::vector<at::Tensor>& tensors, const std::string& what);
  // The elementwise maximum over the ranks, in place.
  void all_reduce_max(at::Tensor& tensor, const std::string& what);
  // Every rank's `value` in rank order (through the rendezvous store); `key` must be new for
  // each exchange (the store keeps what was set).
  std::vector<std::string> all_gather_text(const std::string& key, const std::string& value);
  // Returns when every rank has called it.
  void barrier(const std::string& what);

 private:
  struct Group;
  WorldInfo world_;
  std::string backend_ = "none";
  std::unique_ptr<Group> group_;
};

// The communicator of this process: a world of one when `world` is one process, else `world`
// joined (train, eval and score call it the same way).
std::unique_ptr<Communicator> join_world(
    const WorldInfo& world, const CommunicatorOptions& options);

// The backend `auto` resolves to for a training device: nccl for CUDA, gloo otherwise.
std::string default_backend(at::Device device);
// Whether this build can form process groups over `backend` ("gloo", "nccl").
bool backend_available(const std::string& backend);

}  // namespace dpo
