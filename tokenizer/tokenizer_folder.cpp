#include "tokenizer/tokenizer_folder.h"

#include <map>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/file_io.h"
#include "tokenizer/sentencepiece_model.h"

namespace dpo {
namespace {

using json = nlohmann::json;

json added_token_entry(const std::string& content, bool special) {
  return json{
      {"content", content},
      {"lstrip", false},
      {"normalized", false},
      {"rstrip", false},
      {"single_word", false},
      {"special", special}};
}

}  // namespace

void write_tokenizer_folder(
    const std::string& folder,
    const std::string& tokenizer_model_path,
    const TokenizerFolderOptions& options) {
  std::string model_bytes = read_file(tokenizer_model_path, "tokenizer model");
  SentencePieceModel model(tokenizer_model_path, model_bytes);

  auto piece_or_empty = [&](int id) { return id >= 0 ? model.id_to_piece(id) : std::string(); };
  std::string bos = piece_or_empty(model.bos_id());
  std::string eos = options.eos_token.empty() ? piece_or_empty(model.eos_id()) : options.eos_token;
  std::string unk = piece_or_empty(model.unk_id());

  // added_tokens_decoder: the control and unknown pieces, then the chat markers.
  std::map<int, json> decoder;
  for (int id : {model.unk_id(), model.bos_id(), model.eos_id()}) {
    if (id >= 0)
      decoder[id] = added_token_entry(model.id_to_piece(id), true);
  }
  for (const std::string& token : options.added_special_tokens) {
    int id = model.piece_to_id(token);
    if (id < 0) {
      throw DataError(
          "'" + token + "' is not a piece of '" + tokenizer_model_path + "'",
          "train the tokenizer with --user-symbol '" + token + "'");
    }
    decoder[id] = added_token_entry(token, true);
  }
  if (model.piece_to_id(eos) < 0) {
    throw DataError("eos token '" + eos + "' is not a piece of '" + tokenizer_model_path + "'");
  }

  json decoder_json = json::object();
  for (const auto& [id, entry] : decoder)
    decoder_json[std::to_string(id)] = entry;
  json config = {
      {"add_bos_token", options.add_bos_token},
      {"add_eos_token", false},
      {"added_tokens_decoder", decoder_json},
      {"additional_special_tokens", options.added_special_tokens},
      {"bos_token", bos},
      {"clean_up_tokenization_spaces", false},
      {"eos_token", eos},
      {"legacy", options.legacy},
      {"model_max_length", options.model_max_length},
      {"pad_token", nullptr},
      {"sp_model_kwargs", json::object()},
      {"tokenizer_class", "LlamaTokenizer"},
      {"unk_token", unk},
  };
  if (!options.chat_template.empty())
    config["chat_template"] = options.chat_template;
  json special_map = {
      {"bos_token", bos},
      {"eos_token", eos},
      {"unk_token", unk},
      {"additional_special_tokens", options.added_special_tokens}};

  write_file_atomically(folder + "/tokenizer.model", model_bytes);
  write_file_atomically(folder + "/tokenizer_config.json", config.dump(2) + "\n");
  write_file_atomically(folder + "/special_tokens_map.json", special_map.dump(2) + "\n");
}

}  // namespace dpo
