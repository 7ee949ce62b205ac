#include "tokenizer/sentencepiece_model.h"

#include <dlfcn.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <mutex>
#include <sstream>

#include "core/error.h"
#include "core/file_io.h"
#include "tokenizer/sentencepiece_shim_api.h"

namespace dpo {
namespace {

constexpr const char* kShimFileName = "libdpo_sentencepiece_shim.so";

// The shim's functions, resolved once per process.
struct ShimLibrary {
  std::string path;
  decltype(&dpo_spm_abi_version) abi_version = nullptr;
  decltype(&dpo_spm_free) free = nullptr;
  decltype(&dpo_spm_load_serialized) load_serialized = nullptr;
  decltype(&dpo_spm_free_model) free_model = nullptr;
  decltype(&dpo_spm_encode) encode = nullptr;
  decltype(&dpo_spm_decode) decode = nullptr;
  decltype(&dpo_spm_vocab_size) vocab_size = nullptr;
  decltype(&dpo_spm_piece_to_id) piece_to_id = nullptr;
  decltype(&dpo_spm_id_to_piece) id_to_piece = nullptr;
  decltype(&dpo_spm_piece_type) piece_type = nullptr;
  decltype(&dpo_spm_piece_score) piece_score = nullptr;
  decltype(&dpo_spm_special_id) special_id = nullptr;
  decltype(&dpo_spm_train) train = nullptr;
};

std::string executable_directory() {
  char buffer[PATH_MAX];
  ssize_t size = readlink("/proc/self/exe", buffer, sizeof(buffer) - 1);
  if (size <= 0)
    return "";
  std::string path(buffer, static_cast<size_t>(size));
  return path.substr(0, path.find_last_of('/'));
}

// Places searched, in order: $DPO_SENTENCEPIECE_SHIM, beside the executable, ../lib beside it,
// ../lib/dpo beside it (an installed bin/dpo), ../../lib/dpo (an installed libexec/dpo/dpo-torch),
// and, for executables inside the build tree this copy was compiled in (tests run from their own
// folders), that build's shim. An installed copy never reaches into the build tree it came from.
std::vector<std::string> shim_candidates() {
  std::vector<std::string> candidates;
  if (const char* explicit_path = std::getenv("DPO_SENTENCEPIECE_SHIM")) {
    candidates.emplace_back(explicit_path);
    return candidates;
  }
  std::string exe_dir = executable_directory();
  if (!exe_dir.empty()) {
    candidates.push_back(exe_dir + "/" + kShimFileName);
    candidates.push_back(exe_dir + "/../lib/" + kShimFileName);
    candidates.push_back(exe_dir + "/../lib/dpo/" + kShimFileName);
    candidates.push_back(exe_dir + "/../../lib/dpo/" + kShimFileName);
  }
#ifdef DPO_SENTENCEPIECE_SHIM_BUILD_PATH
  const std::string build_shim = DPO_SENTENCEPIECE_SHIM_BUILD_PATH;
  const std::string build_dir = build_shim.substr(0, build_shim.find_last_of('/') + 1);
  if ((exe_dir + "/").compare(0, build_dir.size(), build_dir) == 0) {
    candidates.push_back(build_shim);
  }
#endif
  return candidates;
}

template <typename Function>
void resolve(void* handle, const char* name, Function& function, const std::string& path) {
  function = reinterpret_cast<Function>(dlsym(handle, name));
  if (function == nullptr) {
    throw IoError(
        "'" + path + "' lacks the symbol " + name,
        "rebuild dpo: the shim and the executable come from different builds");
  }
}

ShimLibrary load_shim() {
  std::ostringstream tried;
  for (const std::string& candidate : shim_candidates()) {
    if (access(candidate.c_str(), R_OK) != 0) {
      tried << "\n  " << candidate << " (not found)";
      continue;
    }
    // RTLD_DEEPBIND: sentencepiece binds to its own embedded protobuf; RTLD_LOCAL: nobody else
    // sees it. See sentencepiece_shim_api.h.
    void* handle = dlopen(candidate.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
    if (handle == nullptr) {
      tried << "\n  " << candidate << " (" << dlerror() << ")";
      continue;
    }
    ShimLibrary shim;
    shim.path = candidate;
    resolve(handle, "dpo_spm_abi_version", shim.abi_version, candidate);
    if (shim.abi_version() != DPO_SPM_ABI_VERSION) {
      throw IoError(
          "'" + candidate + "' has interface version " + std::to_string(shim.abi_version()) +
              ", expected " + std::to_string(DPO_SPM_ABI_VERSION),
          "rebuild dpo: the shim and the executable come from different builds");
    }
    resolve(handle, "dpo_spm_free", shim.free, candidate);
    resolve(handle, "dpo_spm_load_serialized", shim.load_serialized, candidate);
    resolve(handle, "dpo_spm_free_model", shim.free_model, candidate);
    resolve(handle, "dpo_spm_encode", shim.encode, candidate);
    resolve(handle, "dpo_spm_decode", shim.decode, candidate);
    resolve(handle, "dpo_spm_vocab_size", shim.vocab_size, candidate);
    resolve(handle, "dpo_spm_piece_to_id", shim.piece_to_id, candidate);
    resolve(handle, "dpo_spm_id_to_piece", shim.id_to_piece, candidate);
    resolve(handle, "dpo_spm_piece_type", shim.piece_type, candidate);
    resolve(handle, "dpo_spm_piece_score", shim.piece_score, candidate);
    resolve(handle, "dpo_spm_special_id", shim.special_id, candidate);
    resolve(handle, "dpo_spm_train", shim.train, candidate);
    return shim;
  }
  throw IoError(
      "cannot load " + std::string(kShimFileName) + "; tried:" + tried.str(),
      "it is built with dpo and must stay beside the dpo executable, or set "
      "DPO_SENTENCEPIECE_SHIM to its path");
}

const ShimLibrary& shim() {
  static std::once_flag once;
  static ShimLibrary library;
  static std::string failure;
  static std::string failure_hint;
  std::call_once(once, [] {
    try {
      library = load_shim();
    } catch (const Error& error) {
      failure = error.what();
      failure_hint = error.hint();
    }
  });
  if (!failure.empty())
    throw IoError(failure, failure_hint);
  return library;
}

// Takes ownership of a message the shim handed out.
std::string take_message(char* message) {
  std::string text = message != nullptr ? message : "";
  shim().free(message);
  return text;
}

}  // namespace

struct SentencePieceModel::Handle {
  dpo_spm_model* model = nullptr;
  ~Handle() {
    if (model != nullptr)
      shim().free_model(model);
  }
};

SentencePieceModel::SentencePieceModel(const std::string& path)
    : handle_(std::make_unique<Handle>()), path_(path) {
  load(read_file(path, "tokenizer model"));
}

SentencePieceModel::SentencePieceModel(const std::string& name, std::string_view serialized)
    : handle_(std::make_unique<Handle>()), path_(name) {
  load(serialized);
}

void SentencePieceModel::load(std::string_view serialized) {
  char* error = shim().load_serialized(serialized.data(), serialized.size(), &handle_->model);
  if (error != nullptr) {
    handle_->model = nullptr;
    throw DataError(
        "'" + path_ + "' is not a sentencepiece model: " + take_message(error),
        "pass the tokenizer.model file of a Hugging Face model folder");
  }
}

SentencePieceModel::~SentencePieceModel() = default;

std::vector<int> SentencePieceModel::encode(std::string_view text) const {
  std::vector<int> ids;
  encode(text, ids);
  return ids;
}

void SentencePieceModel::encode(std::string_view text, std::vector<int>& ids) const {
  int* encoded = nullptr;
  size_t count = 0;
  char* error = shim().encode(handle_->model, text.data(), text.size(), &encoded, &count);
  if (error != nullptr) {
    throw DataError("sentencepiece could not encode text: " + take_message(error));
  }
  ids.assign(encoded, encoded + count);
  shim().free(encoded);
}

void SentencePieceModel::encode_append(std::string_view text, std::vector<int>& ids) const {
  int* encoded = nullptr;
  size_t count = 0;
  char* error = shim().encode(handle_->model, text.data(), text.size(), &encoded, &count);
  if (error != nullptr) {
    throw DataError("sentencepiece could not encode text: " + take_message(error));
  }
  ids.insert(ids.end(), encoded, encoded + count);
  shim().free(encoded);
}

std::string SentencePieceModel::decode(const std::vector<int>& ids) const {
  for (int id : ids)
    check_id(id);
  char* text = nullptr;
  size_t size = 0;
  char* error = shim().decode(handle_->model, ids.data(), ids.size(), &text, &size);
  if (error != nullptr) {
    throw DataError("sentencepiece could not decode ids: " + take_message(error));
  }
  std::string decoded(text, size);
  shim().free(text);
  return decoded;
}

int SentencePieceModel::vocab_size() const {
  return shim().vocab_size(handle_->model);
}

int SentencePieceModel::piece_to_id(std::string_view piece) const {
  return shim().piece_to_id(handle_->model, piece.data(), piece.size());
}

void SentencePieceModel::check_id(int id) const {
  if (id < 0 || id >= vocab_size()) {
    throw DataError(
        "token id " + std::to_string(id) + " is outside the vocabulary of '" + path_ + "' (" +
        std::to_string(vocab_size()) + " pieces)");
  }
}

std::string SentencePieceModel::id_to_piece(int id) const {
  check_id(id);
  size_t size = 0;
  const char* piece = shim().id_to_piece(handle_->model, id, &size);
  return std::string(piece, size);
}

int SentencePieceModel::bos_id() const {
  return shim().special_id(handle_->model, 0);
}

int SentencePieceModel::eos_id() const {
  return shim().special_id(handle_->model, 1);
}

int SentencePieceModel::unk_id() const {
  return shim().special_id(handle_->model, 2);
}

int SentencePieceModel::pad_id() const {
  return shim().special_id(handle_->model, 3);
}

bool SentencePieceModel::is_control(int id) const {
  check_id(id);
  return shim().piece_type(handle_->model, id) == DPO_SPM_CONTROL;
}

bool SentencePieceModel::is_byte(int id) const {
  check_id(id);
  return shim().piece_type(handle_->model, id) == DPO_SPM_BYTE;
}

bool SentencePieceModel::is_unknown(int id) const {
  check_id(id);
  return shim().piece_type(handle_->model, id) == DPO_SPM_UNKNOWN;
}

float SentencePieceModel::score(int id) const {
  check_id(id);
  return shim().piece_score(handle_->model, id);
}

void train_sentencepiece(const std::string& flags) {
  char* error = shim().train(flags.c_str());
  if (error != nullptr) {
    throw DataError(
        "sentencepiece training failed: " + take_message(error), "flags were: " + flags);
  }
}

std::string sentencepiece_shim_path() {
  return shim().path;
}

std::function<size_t(const std::string& text)> make_token_counter(const std::string& path) {
  auto model = std::make_shared<const SentencePieceModel>(path);
  return [model](const std::string& text) {
    thread_local std::vector<int> ids;
    model->encode(text, ids);
    return ids.size();
  };
}

}  // namespace dpo
