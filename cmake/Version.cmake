# core/version.h comes from core/version.h.in; the git commit is refreshed on every build
# (cmake/WriteGitCommit.cmake rewrites generated/core/git_commit.h only when it changes).
configure_file(${PROJECT_SOURCE_DIR}/core/version.h.in ${PROJECT_BINARY_DIR}/generated/core/version.h @ONLY)
add_custom_target(dpo_git_commit
  COMMAND ${CMAKE_COMMAND} -DSOURCE_DIR=${PROJECT_SOURCE_DIR}
          -DOUTPUT=${PROJECT_BINARY_DIR}/generated/core/git_commit.h
          -P ${PROJECT_SOURCE_DIR}/cmake/WriteGitCommit.cmake
  BYPRODUCTS ${PROJECT_BINARY_DIR}/generated/core/git_commit.h
  COMMENT "Recording the git commit")
