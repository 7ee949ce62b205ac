#!/bin/sh
# Run here (a Debian 12 machine with apt): downloads the Debian packages that building dpo on the
# GPU machine needs and it lacks (it reaches no registry; its LibTorch is PyTorch's) into .debs/,
# which .gitignore keeps out of git and `run`'s carry takes along. tools/gpu/build.sh unpacks
# them there into a prefix (never into /).
set -eu
cd "$(dirname "$0")/../.."
mkdir -p .debs
cd .debs
# Headers and libraries dpo builds against (PCRE2 and ICU for tokenizer.json, tcmalloc for
# dpo-torch's allocations), pkg-config to find sentencepiece, xxhash and tcmalloc.
apt-get download \
  nlohmann-json3-dev libsimdjson-dev libsimdjson14 libcli11-dev libgtest-dev \
  libsentencepiece-dev libsentencepiece0 libxxhash-dev libxxhash0 libssl-dev zlib1g-dev \
  libhdf5-dev libhdf5-103-1 libhdf5-cpp-103-1 libhdf5-hl-100 libhdf5-hl-cpp-100 libsz2 libaec0 libaec-dev \
  libpcre2-dev libpcre2-8-0 libpcre2-16-0 libpcre2-32-0 libpcre2-posix3 libicu-dev libicu72 icu-devtools \
  libgoogle-perftools-dev libtcmalloc-minimal4 libgoogle-perftools4 libunwind8 \
  pkgconf pkgconf-bin libpkgconf3
ls -1 | wc -l | xargs printf '%s packages in .debs/, '
du -sh . | cut -f1
