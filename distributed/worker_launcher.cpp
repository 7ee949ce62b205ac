#include "distributed/worker_launcher.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>

#include "core/error.h"

extern char** environ;

namespace dpo {
namespace {

// The signal the launcher received (0: none), forwarded to the workers by the wait loop.
std::atomic<int> g_launcher_signal{0};
extern "C" void remember_signal(int signal_number) {
  g_launcher_signal = signal_number;
}

struct Worker {
  int rank = 0;
  pid_t pid = -1;
  int out_fd = -1, err_fd = -1;  // read ends of its stdout and stderr
  std::string out_partial, err_partial;
  bool running = true;
  int exit_code = 0;
};

// Writes `text` to `fd` whole (EINTR and short writes retried).
void write_all(int fd, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return;
    done += static_cast<size_t>(n);
  }
}

// Forwards the complete lines of `partial` (ended by '\n', or '\r' for a progress line that
// rewrites itself) with the rank prefix; keeps the unfinished rest. `flush`: the rest too.
void forward_lines(int fd, int rank, std::string& partial, bool flush) {
  const std::string prefix = "[rank " + std::to_string(rank) + "] ";
  size_t start = 0;
  std::string out;
  for (size_t i = 0; i < partial.size(); ++i) {
    if (partial[i] != '\n' && partial[i] != '\r')
      continue;
    const bool carriage = partial[i] == '\r';
    std::string line = partial.substr(start, i - start);
    if (!line.empty() || !carriage)
      out += (carriage ? "\r" : "") + prefix + line + (carriage ? "" : "\n");
    start = i + 1;
  }
  partial.erase(0, start);
  if (flush && !partial.empty()) {
    out += prefix + partial + "\n";
    partial.clear();
  }
  if (!out.empty())
    write_all(fd, out);
}

enum class ReadResult { data, nothing_yet, end };

// Reads what is available on `fd` (non-blocking) into `partial`.
ReadResult drain(int fd, std::string& partial) {
  char buffer[4096];
  const ssize_t n = ::read(fd, buffer, sizeof buffer);
  if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
    return ReadResult::nothing_yet;
  if (n <= 0)
    return ReadResult::end;
  partial.append(buffer, static_cast<size_t>(n));
  return ReadResult::data;
}

std::string describe_exit(int status) {
  if (WIFSIGNALED(status))
    return std::string("was killed by signal ") + std::to_string(WTERMSIG(status)) + " (" +
           strsignal(WTERMSIG(status)) + ")";
  return "exited with code " + std::to_string(WEXITSTATUS(status));
}

int exit_code_of(int status) {
  return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

pid_t start_worker(
    const LaunchOptions& options,
    int local_rank,
    int world_size,
    int port,
    int out[2],
    int err[2]) {
  const int rank = options.node_rank * options.nproc_per_node + local_rank;
  // Everything the child needs is built before fork(): after it, only async-signal-safe calls.
  std::vector<std::string> env_strings;
  const char* const kOwn[] = {
      "RANK=", "WORLD_SIZE=", "LOCAL_RANK=", "LOCAL_WORLD_SIZE=", "MASTER_ADDR=", "MASTER_PORT="};
  for (char** e = environ; *e != nullptr; ++e) {
    bool own = false;
    for (const char* name : kOwn)
      own = own || std::strncmp(*e, name, std::strlen(name)) == 0;
    if (!own)
      env_strings.emplace_back(*e);
  }
  env_strings.push_back("RANK=" + std::to_string(rank));
  env_strings.push_back("WORLD_SIZE=" + std::to_string(world_size));
  env_strings.push_back("LOCAL_RANK=" + std::to_string(local_rank));
  env_strings.push_back("LOCAL_WORLD_SIZE=" + std::to_string(options.nproc_per_node));
  env_strings.push_back("MASTER_ADDR=" + options.master_addr);
  env_strings.push_back("MASTER_PORT=" + std::to_string(port));
  std::vector<char*> envp, argv;
  for (std::string& s : env_strings)
    envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = options.argv;
  for (std::string& s : args)
    argv.push_back(s.data());
  argv.push_back(nullptr);
  const pid_t parent = ::getpid();

  const pid_t pid = ::fork();
  if (pid < 0)
    throw IoError(errno_message("start worker " + std::to_string(rank), errno));
  if (pid == 0) {
    // Its own process group: a Ctrl-C reaches the launcher once, which forwards it once (a
    // second SIGINT would kill a trainer before it saved). Ends with the launcher.
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent)
      ::_exit(128 + SIGTERM);
    ::dup2(out[1], STDOUT_FILENO);
    ::dup2(err[1], STDERR_FILENO);
    ::close(out[0]);
    ::close(err[0]);
    ::close(out[1]);
    ::close(err[1]);
    ::execve(options.executable.c_str(), argv.data(), envp.data());
    const char message[] = "dpo launcher: cannot execute the worker\n";
    (void)!::write(STDERR_FILENO, message, sizeof message - 1);
    ::_exit(127);
  }
  return pid;
}

void signal_all(std::vector<Worker>& workers, int signal_number) {
  for (Worker& worker : workers) {
    if (worker.running)
      ::kill(worker.pid, signal_number);
  }
}

}  // namespace

int free_local_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    throw IoError(errno_message("open a socket to find a free port", errno));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof address;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    const int error = errno;
    ::close(fd);
    throw IoError(errno_message("find a free port on 127.0.0.1", error));
  }
  ::close(fd);
  return ntohs(address.sin_port);
}

int run_workers(const LaunchOptions& options) {
  if (options.nproc_per_node < 1 || options.nproc_per_node > 1024)
    throw UsageError("--nproc-per-node must be in [1, 1024]");
  if (options.nnodes < 1 || options.node_rank < 0 || options.node_rank >= options.nnodes) {
    throw UsageError(
        "--node-rank " + std::to_string(options.node_rank) + " is not in [0, --nnodes " +
        std::to_string(options.nnodes) + ")");
  }
  if (options.nnodes > 1 && options.master_port == 0) {
    throw UsageError(
        "--nnodes " + std::to_string(options.nnodes) +
        " needs --master-port (the same on every node)");
  }
  if (options.master_port < 0 || options.master_port > 65535)
    throw UsageError("--master-port must be in [1, 65535]");
  const int port = options.master_port > 0 ? options.master_port : free_local_port();
  const int world_size = options.nnodes * options.nproc_per_node;

  struct sigaction action {
  }, old_int{}, old_term{};
  action.sa_handler = remember_signal;
  sigemptyset(&action.sa_mask);
  g_launcher_signal = 0;
  sigaction(SIGINT, &action, &old_int);
  sigaction(SIGTERM, &action, &old_term);
  struct RestoreSignals {
    struct sigaction& old_int;
    struct sigaction& old_term;
    ~RestoreSignals() {
      sigaction(SIGINT, &old_int, nullptr);
      sigaction(SIGTERM, &old_term, nullptr);
    }
  } restore{old_int, old_term};

  std::vector<Worker> workers;
  for (int local = 0; local < options.nproc_per_node; ++local) {
    int out[2], err[2];
    if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0)
      throw IoError(errno_message("create the pipes of worker " + std::to_string(local), errno));
    Worker worker;
    worker.rank = options.node_rank * options.nproc_per_node + local;
    try {
      worker.pid = start_worker(options, local, world_size, port, out, err);
    } catch (...) {
      signal_all(workers, SIGKILL);
      throw;
    }
    ::close(out[1]);
    ::close(err[1]);
    worker.out_fd = out[0];
    worker.err_fd = err[0];
    ::fcntl(out[0], F_SETFL, O_NONBLOCK);
    ::fcntl(err[0], F_SETFL, O_NONBLOCK);
    workers.push_back(std::move(worker));
  }

  int first_failure = 0;
  bool stopping = false, forwarded_signal = false;
  std::chrono::steady_clock::time_point kill_at{};
  size_t running = workers.size();
  while (running > 0) {
    // Output first, then exits: a worker's last lines come before the news of its end.
    std::vector<pollfd> fds;
    std::vector<std::pair<size_t, bool>> owners;  // worker index, is stdout
    for (size_t i = 0; i < workers.size(); ++i) {
      if (workers[i].out_fd >= 0) {
        fds.push_back({workers[i].out_fd, POLLIN, 0});
        owners.emplace_back(i, true);
      }
      if (workers[i].err_fd >= 0) {
        fds.push_back({workers[i].err_fd, POLLIN, 0});
        owners.emplace_back(i, false);
      }
    }
    if (!fds.empty())
      ::poll(fds.data(), fds.size(), 100);
    else
      ::usleep(100 * 1000);
    for (size_t k = 0; k < fds.size(); ++k) {
      if ((fds[k].revents & (POLLIN | POLLHUP | POLLERR)) == 0)
        continue;
      Worker& worker = workers[owners[k].first];
      const bool is_out = owners[k].second;
      int& fd = is_out ? worker.out_fd : worker.err_fd;
      std::string& partial = is_out ? worker.out_partial : worker.err_partial;
      const int target = is_out ? STDOUT_FILENO : STDERR_FILENO;
      const bool open = drain(fd, partial) != ReadResult::end;
      forward_lines(target, worker.rank, partial, !open);
      if (!open) {
        ::close(fd);
        fd = -1;
      }
    }
    if (const int signal_number = g_launcher_signal.exchange(0)) {
      signal_all(workers, signal_number);  // the trainers save a checkpoint and stop together
      forwarded_signal = true;
    }
    for (Worker& worker : workers) {
      if (!worker.running)
        continue;
      int status = 0;
      const pid_t done = ::waitpid(worker.pid, &status, WNOHANG);
      if (done != worker.pid)
        continue;
      worker.running = false;
      worker.exit_code = exit_code_of(status);
      --running;
      if (worker.exit_code != 0 && first_failure == 0) {
        first_failure = worker.exit_code;
        // After a forwarded SIGINT or SIGTERM every worker ends by itself (130, 143), rank 0
        // last with its summary: nobody is stopped early.
        if (running > 0 && !forwarded_signal) {
          const std::string message = "dpo launcher: rank " + std::to_string(worker.rank) + " " +
                                      describe_exit(status) + "; stopping the other " +
                                      std::to_string(running) + " rank(s)\n";
          write_all(STDERR_FILENO, message);
          signal_all(workers, SIGTERM);
          stopping = true;
          kill_at =
              std::chrono::steady_clock::now() +
              std::chrono::milliseconds(static_cast<int64_t>(options.stop_grace_seconds * 1000));
        }
      }
    }
    if (stopping && running > 0 && std::chrono::steady_clock::now() >= kill_at) {
      write_all(
          STDERR_FILENO,
          "dpo launcher: " + std::to_string(running) + " rank(s) still running after " +
              std::to_string(static_cast<int>(options.stop_grace_seconds)) + " s: killing them\n");
      signal_all(workers, SIGKILL);
      stopping = false;
    }
  }
  // What the workers wrote after their end (pipes still open): forwarded.
  for (Worker& worker : workers) {
    for (int* fd : {&worker.out_fd, &worker.err_fd}) {
      if (*fd < 0)
        continue;
      std::string& partial = fd == &worker.out_fd ? worker.out_partial : worker.err_partial;
      while (drain(*fd, partial) == ReadResult::data) {
      }
      forward_lines(
          fd == &worker.out_fd ? STDOUT_FILENO : STDERR_FILENO, worker.rank, partial, true);
      ::close(*fd);
      *fd = -1;
    }
  }
  return first_failure;
}

}  // namespace dpo
