// The collectives over a real Gloo process group: two ranks as two threads of this process,
// meeting at a TCPStore on the loopback address. And what a rank says when the others are not
// there.
#include "distributed/communicator.h"

#include <ATen/ATen.h>
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <thread>

#include "distributed/gradient_sync.h"
#include "distributed/worker_launcher.h"

namespace dpo {
namespace {

WorldInfo world_of(int rank, int size, int port) {
  WorldInfo world;
  world.rank = rank;
  world.world_size = size;
  world.local_rank = rank;
  world.local_world_size = size;
  world.master_port = port;
  return world;
}

// Runs `body(communicator)` on `size` ranks, one thread each; rethrows the first failure.
void on_ranks(int size, const std::function<void(Communicator&)>& body) {
  if (!backend_available("gloo"))
    GTEST_SKIP() << "this build has no Gloo process groups (libgloo-dev missing at configure)";
  const int port = free_local_port();
  std::vector<std::thread> threads;
  std::vector<std::exception_ptr> errors(static_cast<size_t>(size));
  for (int rank = 0; rank < size; ++rank) {
    threads.emplace_back([&, rank] {
      try {
        Communicator communicator(world_of(rank, size, port), CommunicatorOptions{"gloo", 30});
        body(communicator);
      } catch (...) {
        errors[static_cast<size_t>(rank)] = std::current_exception();
      }
    });
  }
  for (std::thread& t : threads)
    t.join();
  for (std::exception_ptr& e : errors) {
    if (e)
      std::rethrow_exception(e);
  }
}

TEST(Communicator, AWorldOfOneLeavesEverythingAsItIs) {
  Communicator one;
  EXPECT_EQ(one.world_size(), 1);
  EXPECT_EQ(one.backend(), "none");
  std::vector<at::Tensor> tensors{at::arange(3, at::kDouble)};
  one.all_reduce_sum(tensors, "test");
  EXPECT_TRUE(at::equal(tensors[0], at::arange(3, at::kDouble)));
  EXPECT_EQ(one.all_gather_text("k", "v"), std::vector<std::string>{"v"});
  one.barrier("nothing");
}

TEST(Communicator, SumsMaximaAndTextsOverTwoRanks) {
  on_ranks(2, [](Communicator& c) {
    EXPECT_EQ(c.backend(), "gloo");
    // Rank r holds [r+1, 10(r+1)] and [100]: the sums are [3, 30] and [200].
    std::vector<at::Tensor> tensors{
        at::tensor({1.0 * (c.rank() + 1), 10.0 * (c.rank() + 1)}, at::kDouble),
        at::full({1}, 100.0, at::kFloat)};
    c.all_reduce_sum(tensors, "test tensors");
    EXPECT_DOUBLE_EQ(tensors[0][0].item<double>(), 3.0);
    EXPECT_DOUBLE_EQ(tensors[0][1].item<double>(), 30.0);
    EXPECT_FLOAT_EQ(tensors[1][0].item<float>(), 200.0f);
    at::Tensor signal = at::full({1}, c.rank() == 1 ? 15.0 : 0.0, at::kDouble);
    c.all_reduce_max(signal, "a stop request");
    EXPECT_EQ(signal.item<double>(), 15.0);
    EXPECT_EQ(
        c.all_gather_text("devices", "cpu:" + std::to_string(c.rank())),
        (std::vector<std::string>{"cpu:0", "cpu:1"}));
    c.barrier("the end");
  });
}

TEST(Communicator, GradientBucketsSumEveryGradientAndFillMissingOnesWithZeros) {
  on_ranks(2, [](Communicator& c) {
    // Three tensors of 4, 6 and 2 floats in buckets of 40 bytes: [a, b] and [c].
    std::vector<at::Tensor> parameters{
        at::zeros({2, 2}).requires_grad_(),
        at::zeros({6}).requires_grad_(),
        at::zeros({2}).requires_grad_()};
    parameters[0].mutable_grad() = at::full({2, 2}, 1.0f + c.rank());
    parameters[1].mutable_grad() = at::arange(6, at::kFloat) * (c.rank() + 1);
    if (c.rank() == 0)
      parameters[2].mutable_grad() = at::full({2}, 7.0f);  // rank 1 never reached it
    GradientBuckets buckets(parameters, 40.0 / (1024 * 1024));
    EXPECT_EQ(buckets.bucket_count(), 2u);
    buckets.sum_over_ranks(c, "test gradients");
    EXPECT_TRUE(at::equal(parameters[0].grad(), at::full({2, 2}, 3.0f)));
    EXPECT_TRUE(at::equal(parameters[1].grad(), at::arange(6, at::kFloat) * 3));
    EXPECT_TRUE(at::equal(parameters[2].grad(), at::full({2}, 7.0f)));
  });
}

TEST(Communicator, ARankAloneGivesUpAfterTheTimeoutNamingTheAddress) {
  if (!backend_available("gloo"))
    GTEST_SKIP() << "this build has no Gloo process groups (libgloo-dev missing at configure)";
  // Rank 1 of 2 with nobody listening at the port.
  const auto start = std::chrono::steady_clock::now();
  try {
    Communicator c(world_of(1, 2, free_local_port()), CommunicatorOptions{"gloo", 2});
    FAIL() << "joined a world that does not exist";
  } catch (const DistributedError& e) {
    EXPECT_NE(e.message().find("could not meet the other ranks at 127.0.0.1:"), std::string::npos)
        << e.message();
  }
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 30);
}

TEST(Communicator, APortInUseIsNamed) {
  if (!backend_available("gloo"))
    GTEST_SKIP() << "this build has no Gloo process groups (libgloo-dev missing at configure)";
  // Another program listens on the port rank 0 wants.
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_ANY);
  address.sin_port = 0;
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  socklen_t length = sizeof address;
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  const int port = ntohs(address.sin_port);
  try {
    Communicator c(world_of(0, 2, port), CommunicatorOptions{"gloo", 2});
    FAIL() << "rank 0 listened on a port in use";
  } catch (const DistributedError& e) {
    EXPECT_NE(e.message().find("port " + std::to_string(port)), std::string::npos) << e.message();
  }
  close(fd);
}

TEST(Communicator, UnknownAndUnavailableBackendsAreConfigErrors) {
  EXPECT_THROW(Communicator(world_of(0, 2, 1), CommunicatorOptions{"mpi", 1}), ConfigError);
  // NCCL needs a CUDA device.
  EXPECT_THROW(
      Communicator(world_of(0, 2, 1), CommunicatorOptions{"nccl", 1, at::kCPU}), ConfigError);
  EXPECT_EQ(default_backend(at::kCPU), "gloo");
  EXPECT_EQ(default_backend(at::Device(at::kCUDA, 0)), "nccl");
}

}  // namespace
}  // namespace dpo
