#include "distributed/communicator.h"

#include <ATen/ATen.h>

#include <chrono>
#include <cstring>

#include "core/log.h"

// c10d declares its process groups only under these macros (CMake sets them where the headers
// of the backend are found: distributed/CMakeLists.txt).
#if DPO_WITH_GLOO
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#if DPO_WITH_NCCL
#ifndef USE_C10D_NCCL
#define USE_C10D_NCCL
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

namespace dpo {
namespace {

constexpr const char* kPeerHint =
    "another rank stopped or cannot be reached: its own output names the cause (dpo's launcher "
    "and torchrun name the rank that exited first); a rank that hangs is given up after "
    "distributed.timeout_s";

// The first line of a c10d message (the rest is a C++ stack trace).
std::string first_line(const std::string& text) {
  const size_t end = text.find('\n');
  return end == std::string::npos ? text : text.substr(0, end);
}

bool is_loopback(const std::string& address) {
  return address == "localhost" || address.rfind("127.", 0) == 0 || address == "::1";
}

// The collectives dpo uses, over either process group type (ProcessGroupGloo and
// ProcessGroupNCCL share these member functions in LibTorch 1.13 and 2.x).
struct Collectives {
  virtual ~Collectives() = default;
  // Reduces each tensor over the ranks, in place. One c10d allreduce per tensor (a c10d
  // allreduce of several tensors means one tensor per local device, reduced together), all
  // started before the first is waited for, so they overlap.
  virtual void all_reduce(std::vector<at::Tensor>& tensors, c10d::ReduceOp op) = 0;
};

template <class ProcessGroup>
struct GroupCollectives : Collectives {
  c10::intrusive_ptr<ProcessGroup> group;
  explicit GroupCollectives(c10::intrusive_ptr<ProcessGroup> g) : group(std::move(g)) {}
  void all_reduce(std::vector<at::Tensor>& tensors, c10d::ReduceOp op) override {
    c10d::AllreduceOptions options;
    options.reduceOp = op;
    std::vector<decltype(group->allreduce(tensors, options))> works;
    for (at::Tensor& tensor : tensors) {
      std::vector<at::Tensor> one{tensor};
      works.push_back(group->allreduce(one, options));
    }
    for (auto& work : works)
      work->wait();
  }
};

}  // namespace

struct Communicator::Group {
  c10::intrusive_ptr<c10d::Store> store;
  std::unique_ptr<Collectives> collectives;
  at::Device device = at::kCPU;  // where the backend wants its tensors
};

std::string default_backend(at::Device device) {
  return device.is_cuda() ? "nccl" : "gloo";
}

bool backend_available(const std::string& backend) {
  if (backend == "gloo")
    return DPO_WITH_GLOO != 0;
  if (backend == "nccl")
    return DPO_WITH_NCCL != 0;
  return false;
}

std::unique_ptr<Communicator> join_world(
    const WorldInfo& world, const CommunicatorOptions& options) {
  if (!world.distributed())
    return std::make_unique<Communicator>();
  return std::make_unique<Communicator>(world, options);
}

Communicator::Communicator() = default;
Communicator::~Communicator() = default;

Communicator::Communicator(const WorldInfo& world, const CommunicatorOptions& options)
    : world_(world) {
  if (world.world_size <= 1)
    return;
  backend_ = options.backend == "auto" ? default_backend(options.device) : options.backend;
  if (backend_ != "gloo" && backend_ != "nccl") {
    throw ConfigError(
        "distributed.backend '" + options.backend + "' is not one of auto, gloo, nccl",
        "auto picks nccl for CUDA and gloo for the CPU");
  }
  if (!backend_available(backend_)) {
    throw ConfigError(
        "this build of dpo has no " + backend_ + " process groups",
        backend_ == "gloo" ? "install the gloo headers (libgloo-dev, tools/install_deps.sh) and "
                             "build again"
                           : "build against a CUDA build of LibTorch with NCCL's nccl.h found "
                             "(make torch-build)");
  }
  if (backend_ == "nccl" && !options.device.is_cuda()) {
    throw ConfigError(
        "distributed.backend nccl needs train.device cuda", "use gloo for CPU training");
  }
  const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(options.timeout_s * 1000));
  const std::string where = world.master_addr + ":" + std::to_string(world.master_port);
  auto group = std::make_unique<Group>();

  // 1. Rendezvous: rank 0 serves the store, every rank connects (rank 0 waits for all).
  try {
    c10d::TCPStoreOptions store_options;
    store_options.port = static_cast<uint16_t>(world.master_port);
    store_options.isServer = world.rank == 0;
    store_options.numWorkers = world.world_size;
    store_options.waitWorkers = true;
    store_options.timeout = timeout;
    group->store = c10::make_intrusive<c10d::TCPStore>(world.master_addr, store_options);
  } catch (const std::exception& e) {
    const std::string cause = first_line(e.what());
    const bool in_use =
        cause.find("in use") != std::string::npos || cause.find("EADDRINUSE") != std::string::npos;
    if (world.rank == 0 && in_use) {
      throw DistributedError(
          "rank 0 cannot listen on port " + std::to_string(world.master_port) +
              ": the port is in use (" + cause + ")",
          "choose another MASTER_PORT (dpo's launcher picks a free one when --master-port is "
          "not given)");
    }
    throw DistributedError(
        "rank " + std::to_string(world.rank) + " of " + std::to_string(world.world_size) +
            " could not meet the other ranks at " + where + " within " +
            std::to_string(static_cast<int>(options.timeout_s)) + " s: " + cause,
        "check MASTER_ADDR (the host of rank 0, reachable from every node) and MASTER_PORT, and "
        "that all " +
            std::to_string(world.world_size) + " ranks were started");
  }

  // 2. The process group.
  try {
    if (backend_ == "gloo") {
#if DPO_WITH_GLOO
      auto gloo_options = c10d::ProcessGroupGloo::Options::create();
      gloo_options->timeout = timeout;
      const char* interface = std::getenv("GLOO_SOCKET_IFNAME");
      if (interface != nullptr && *interface != '\0') {
        gloo_options->devices.push_back(
            c10d::ProcessGroupGloo::createDeviceForInterface(interface));
      } else if (is_loopback(world.master_addr)) {
        // All ranks on this host: the loopback interface, whatever the host name resolves to.
        gloo_options->devices.push_back(
            c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
      } else {
        gloo_options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
      }
      group->collectives = std::make_unique<GroupCollectives<c10d::ProcessGroupGloo>>(
          c10::make_intrusive<c10d::ProcessGroupGloo>(
              group->store, world.rank, world.world_size, gloo_options));
      group->device = at::kCPU;
#endif
    } else {
#if DPO_WITH_NCCL
      auto nccl_options = c10d::ProcessGroupNCCL::Options::create();
      nccl_options->timeout = timeout;
      group->collectives = std::make_unique<GroupCollectives<c10d::ProcessGroupNCCL>>(
          c10::make_intrusive<c10d::ProcessGroupNCCL>(
              group->store, world.rank, world.world_size, nccl_options));
      group->device = options.device;
#endif
    }
  } catch (const std::exception& e) {
    throw DistributedError(
        "rank " + std::to_string(world.rank) + " could not form the " + backend_ +
            " process group of " + std::to_string(world.world_size) + " ranks (store at " + where +
            "): " + first_line(e.what()),
        kPeerHint);
  }
  group_ = std::move(group);
  DPO_LOG_INFO(
      "distributed",
      "rank %d of %d joined (%s, rendezvous at %s, local rank %d of %d)",
      world.rank,
      world.world_size,
      backend_.c_str(),
      where.c_str(),
      world.local_rank,
      world.local_world_size);
}

void Communicator::all_reduce_sum(std::vector<at::Tensor>& tensors, const std::string& what) {
  if (!group_ || tensors.empty())
    return;
  std::vector<at::Tensor> moved;
  moved.reserve(tensors.size());
  for (const at::Tensor& t : tensors)
    moved.push_back(t.device() == group_->device ? t : t.to(group_->device));
  try {
    group_->collectives->all_reduce(moved, c10d::ReduceOp::SUM);
  } catch (const std::exception& e) {
    throw DistributedError(
        "rank " + std::to_string(rank()) + ": the sum of " + what +
            " over the ranks failed: " + first_line(e.what()),
        kPeerHint);
  }
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (!moved[i].is_same(tensors[i]))
      tensors[i].copy_(moved[i]);
  }
}

void Communicator::all_reduce_max(at::Tensor& tensor, const std::string& what) {
  if (!group_)
    return;
  std::vector<at::Tensor> moved{
      tensor.device() == group_->device ? tensor : tensor.to(group_->device)};
  try {
    group_->collectives->all_reduce(moved, c10d::ReduceOp::MAX);
  } catch (const std::exception& e) {
    throw DistributedError(
        "rank " + std::to_string(rank()) + ": the maximum of " + what +
            " over the ranks failed: " + first_line(e.what()),
        kPeerHint);
  }
  if (!moved[0].is_same(tensor))
    tensor.copy_(moved[0]);
}

std::vector<std::string> Communicator::all_gather_text(
    const std::string& key, const std::string& value) {
  if (!group_)
    return {value};
  const std::string prefix = "dpo/" + key + "/";
  std::vector<std::string> values;
  try {
    group_->store->set(
        prefix + std::to_string(rank()), std::vector<uint8_t>(value.begin(), value.end()));
    for (int r = 0; r < world_size(); ++r) {
      const std::vector<uint8_t> bytes = group_->store->get(prefix + std::to_string(r));
      values.emplace_back(bytes.begin(), bytes.end());
    }
  } catch (const std::exception& e) {
    throw DistributedError(
        "rank " + std::to_string(rank()) + ": exchanging '" + key +
            "' through the rendezvous store failed: " + first_line(e.what()),
        kPeerHint);
  }
  return values;
}

void Communicator::barrier(const std::string& what) {
  if (!group_)
    return;
  // A one-element sum: the same on every backend (NCCL's own barrier guesses the device).
  std::vector<at::Tensor> token{at::zeros({1}, at::TensorOptions().device(group_->device))};
  all_reduce_sum(token, what);
}

}  // namespace dpo
