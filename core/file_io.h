// Reading whole files and asking what a path is. Every "read this file into a string" in dpo
// goes through read_file(), so that a missing or unreadable file always says which one and why.
#pragma once

#include <string>

namespace dpo {

// The bytes of `path`. Throws IoError "cannot read <what> '<path>': <reason>"; `what` names the
// kind of file for the message ("chat template", "config"), empty for none.
std::string read_file(const std::string& path, const std::string& what = "");

// What `path` must be, for describe_path_problem().
enum class PathKind { directory, regular_file };

// Why `path` cannot be used as a `kind`, in words for a message after the quoted path:
// "does not exist", "is a file, not a folder", "is a folder, not a file", "is a symlink loop
// (ELOOP)", "is a dangling symlink to 'x'", "cannot be reached: a component of the path is not
// a folder (ENOTDIR)", "cannot be reached: permission denied (EACCES)", ... Empty when `path` is
// fine. Symlinks are followed; the real errno decides the words, never a guess.
std::string describe_path_problem(const std::string& path, PathKind kind);

// Throws IoError "<role> '<path>' <problem>" (path escaped with printable()) with `hint` unless
// `path` is a directory; `role` names it for the reader ("model folder", "output folder").
void require_directory(const std::string& path, const std::string& role, const std::string& hint);
// The same for a regular file ("tokenizer model", "config file").
void require_regular_file(
    const std::string& path, const std::string& role, const std::string& hint);

// True when `path` exists and is a regular file (symlinks followed).
bool is_regular_file(const std::string& path);
// True when `path` exists and is a directory (symlinks followed).
bool is_directory(const std::string& path);

}  // namespace dpo
