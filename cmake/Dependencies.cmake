# Every third-party library comes from a Debian 12 package (see tools/install_deps.sh).
# Each one is wrapped in a dpo::<name> target so the folders below only name targets.

find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(ZLIB REQUIRED)
find_package(OpenSSL REQUIRED COMPONENTS Crypto)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(simdjson REQUIRED)
find_package(CLI11 REQUIRED)
pkg_check_modules(XXHASH REQUIRED IMPORTED_TARGET libxxhash)
pkg_check_modules(SENTENCEPIECE REQUIRED IMPORTED_TARGET sentencepiece)

# LibTorch: Debian's libtorch-dev (1.13, CPU) or the one inside a PyTorch wheel
# (pass -DCMAKE_PREFIX_PATH=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')).
find_package(Torch REQUIRED)
add_library(dpo_torch INTERFACE)
target_link_libraries(dpo_torch INTERFACE ${TORCH_LIBRARIES})
# TORCH_CXX_FLAGS carries the C++ ABI define that every object linked with LibTorch must share.
separate_arguments(DPO_TORCH_CXX_FLAGS UNIX_COMMAND "${TORCH_CXX_FLAGS}")
target_compile_options(dpo_torch INTERFACE ${DPO_TORCH_CXX_FLAGS})
add_library(dpo::torch ALIAS dpo_torch)

# sentencepiece.
find_library(DPO_SENTENCEPIECE_TRAIN_LIB NAMES sentencepiece_train HINTS ${SENTENCEPIECE_LIBRARY_DIRS})
add_library(dpo_sentencepiece INTERFACE)
target_link_libraries(dpo_sentencepiece INTERFACE PkgConfig::SENTENCEPIECE)
add_library(dpo::sentencepiece ALIAS dpo_sentencepiece)
add_library(dpo_sentencepiece_train INTERFACE)
target_link_libraries(dpo_sentencepiece_train INTERFACE "${DPO_SENTENCEPIECE_TRAIN_LIB}" dpo_sentencepiece)
add_library(dpo::sentencepiece_train ALIAS dpo_sentencepiece_train)

# The protobuf clash. Debian's libsentencepiece embeds protobuf-lite 3.14 and exports its
# symbols; Debian's LibTorch loads libprotobuf.so.32 (3.21). When libsentencepiece is loaded
# first, LibTorch's protobuf users bind to the embedded copy and the process crashes at
# start-up. An executable that links both must therefore name libprotobuf.so.32 first, with
# --no-as-needed: link dpo::protobuf_first before anything else. In such a process the
# sentencepiece *trainer* refuses to run (its protobuf version check fails against 3.21), so
# tokenizer training runs in a process without LibTorch (tools/spm_train_main.cpp).
# With a PyTorch wheel's LibTorch (protobuf linked in privately) the library is absent and
# nothing is added.
find_library(DPO_PROTOBUF_SO NAMES libprotobuf.so.32
             PATHS /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu /usr/lib NO_DEFAULT_PATH)
add_library(dpo_protobuf_first INTERFACE)
if(DPO_PROTOBUF_SO)
  target_link_libraries(dpo_protobuf_first INTERFACE
    "-Wl,--no-as-needed" "${DPO_PROTOBUF_SO}" "-Wl,--as-needed")
endif()
add_library(dpo::protobuf_first ALIAS dpo_protobuf_first)

if(DPO_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
