// The C interface of libdpo_sentencepiece_shim.so, the only code that includes sentencepiece's
// headers. Why a separate shared object loaded with dlopen(RTLD_LOCAL | RTLD_DEEPBIND):
// Debian's libsentencepiece embeds protobuf-lite 3.14 and exports its symbols, while LibTorch
// brings libprotobuf.so.32 (3.21). Whichever library is loaded first wins every protobuf symbol
// of the process: with sentencepiece first, LibTorch crashes at start-up; with libprotobuf
// first, sentencepiece refuses to load any model ("compiled against 3.14 ... installed 3.21").
// Loading the shim with RTLD_DEEPBIND makes sentencepiece bind to its own embedded copy, and
// RTLD_LOCAL keeps that copy out of LibTorch's sight, so both work in one process.
//
// Conventions: functions returning `char*` return NULL on success and otherwise an error message
// the caller frees with dpo_spm_free. Arrays handed out are freed with dpo_spm_free too, never
// with the caller's free(): under RTLD_DEEPBIND the shim's malloc is glibc's even when the
// executable links another allocator (dpo-torch links tcmalloc), so each side frees its own.
#pragma once

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DPO_SPM_ABI_VERSION 2

typedef struct dpo_spm_model dpo_spm_model;

// Piece types, as sentencepiece's ModelProto::SentencePiece::Type.
enum dpo_spm_piece_type {
  DPO_SPM_NORMAL = 1,
  DPO_SPM_UNKNOWN = 2,
  DPO_SPM_CONTROL = 3,
  DPO_SPM_USER_DEFINED = 4,
  DPO_SPM_UNUSED = 5,
  DPO_SPM_BYTE = 6,
};

int dpo_spm_abi_version(void);
// Frees a message or an array the shim handed out.
void dpo_spm_free(void* pointer);
char* dpo_spm_load_serialized(const char* bytes, size_t size, dpo_spm_model** model);
void dpo_spm_free_model(dpo_spm_model* model);
char* dpo_spm_encode(
    const dpo_spm_model* model, const char* text, size_t size, int** ids, size_t* count);
char* dpo_spm_decode(
    const dpo_spm_model* model, const int* ids, size_t count, char** text, size_t* size);
int dpo_spm_vocab_size(const dpo_spm_model* model);
// -1 when `piece` is not in the vocabulary.
int dpo_spm_piece_to_id(const dpo_spm_model* model, const char* piece, size_t size);
// The piece text stays valid as long as the model; *size receives its length.
const char* dpo_spm_id_to_piece(const dpo_spm_model* model, int id, size_t* size);
int dpo_spm_piece_type(const dpo_spm_model* model, int id);
float dpo_spm_piece_score(const dpo_spm_model* model, int id);
// which: 0 bos, 1 eos, 2 unk, 3 pad; -1 when the model has none.
int dpo_spm_special_id(const dpo_spm_model* model, int which);
// Trains a model with sentencepiece's command-line style flags ("--input=... --model_prefix=...").
char* dpo_spm_train(const char* flags);

#ifdef __cplusplus
}
#endif
