#!/bin/sh
# Fails (exit 1) when a tracked C++ file differs from what clang-format makes of it with the
# repository's .clang-format, and names the files. `tools/check_format.sh --fix` rewrites them.
# CI runs the check (.ci/run); Debian 12's clang-format (14) is the reference version.
set -eu
cd "$(dirname "$0")/.."
if ! command -v clang-format >/dev/null 2>&1; then
  echo "check_format: clang-format not found; install it with: apt-get install clang-format" >&2
  exit 2
fi
files=$(git ls-files '*.cpp' '*.h')
if [ "${1:-}" = "--fix" ]; then
  # shellcheck disable=SC2086
  clang-format -i $files
  exit 0
fi
bad=""
for file in $files; do
  clang-format --dry-run --Werror "$file" >/dev/null 2>&1 || bad="$bad $file"
done
if [ -n "$bad" ]; then
  echo "check_format: these files are not formatted with .clang-format:" >&2
  for file in $bad; do echo "  $file" >&2; done
  echo "check_format: run tools/check_format.sh --fix (clang-format $(clang-format --version | sed 's/.*version //'))" >&2
  exit 1
fi
echo "check_format: $(echo "$files" | wc -l) files formatted"
