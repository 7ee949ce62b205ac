// Reading whole files and asking what a path is. Every "read this file into a string" in dpo
// goes through read_file(), so that a missing or unreadable file always says which one and why.
#pragma once

#include <string>

namespace dpo {

// The bytes of `path`. Throws IoError "cannot read <what> '<path>': <reason>"; `what` names the
// kind of file for the message ("chat template", "config"), empty for none.
std::string read_file(const std::string& path, const std::string& what = "");

// True when `path` exists and is a regular file (symlinks followed).
bool is_regular_file(const std::string& path);
// True when `path` exists and is a directory (symlinks followed).
bool is_directory(const std::string& path);

}  // namespace dpo
