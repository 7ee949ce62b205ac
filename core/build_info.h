// Version and lineage of this build: the dpo version and the git commit it was built from.
#pragma once

#include <string>

namespace dpo {

// "0.1.0"
std::string dpo_version();
// Short git commit of the source tree at build time, "-dirty" when it had local changes,
// "unknown" outside a git checkout.
std::string dpo_git_commit();

}  // namespace dpo
