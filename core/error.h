// The error hierarchy of dpo. Library code throws these with context (file, line, offset,
// what to do about it); the CLI catches them once and maps them to exit codes.
#pragma once

#include <stdexcept>
#include <string>

namespace dpo {

// Exit codes shared by every command (documented in README.md).
enum ExitCode : int {
  kExitOk = 0,         // the command did what was asked and found nothing wrong
  kExitFailed = 1,     // the command ran and its verdict is "fail" (errors found, gate failed)
  kExitCannotRun = 2,  // bad arguments, unreadable input, or an error that stopped the run
  // A training run stopped by a signal after saving a checkpoint (the shell's 128 + signal).
  kExitInterrupted = 130,  // SIGINT
  kExitTerminated = 143,   // SIGTERM
};

class Error : public std::runtime_error {
 public:
  // `hint` says how to fix the problem; it is appended to the message on its own line.
  explicit Error(const std::string& message, const std::string& hint = "");
  const std::string& message() const {
    return message_;
  }
  const std::string& hint() const {
    return hint_;
  }

 private:
  std::string message_;
  std::string hint_;
};

// The command line or an option value is wrong.
class UsageError : public Error {
 public:
  using Error::Error;
};

// A file cannot be opened, read or written.
class IoError : public Error {
 public:
  using Error::Error;
};

// Input data cannot be used as a whole (row-level problems are reported, not thrown).
class DataError : public Error {
 public:
  using Error::Error;
};

// A configuration file or value is invalid.
class ConfigError : public Error {
 public:
  using Error::Error;
};

// A model checkpoint is malformed or does not match its config.
class CheckpointError : public Error {
 public:
  using Error::Error;
};

// A prepared dataset or cache is malformed, stale or made for another model.
class CacheError : public Error {
 public:
  using Error::Error;
};

// "open 'x.jsonl': No such file or directory" from errno.
std::string errno_message(const std::string& what, int errnum);

}  // namespace dpo
