#include "core/build_info.h"

#include "core/git_commit.h"
#include "core/version.h"

namespace dpo {

std::string dpo_version() {
  return DPO_VERSION;
}

std::string dpo_git_commit() {
  return DPO_GIT_COMMIT;
}

}  // namespace dpo
