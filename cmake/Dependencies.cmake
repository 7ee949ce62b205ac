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

# HDF5 (C and C++ APIs) for prepared datasets: dpo::hdf5.
find_package(HDF5 REQUIRED COMPONENTS C CXX)
add_library(dpo_hdf5 INTERFACE)
target_link_libraries(dpo_hdf5 INTERFACE HDF5::HDF5)
add_library(dpo::hdf5 ALIAS dpo_hdf5)
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

# The protobuf clash between Debian's libsentencepiece (embedded protobuf-lite 3.14, exported)
# and LibTorch's libprotobuf.so.32 (3.21) is avoided by never linking sentencepiece into an
# executable: dataloader/sentencepiece_shim.cpp is a module loaded with RTLD_DEEPBIND.
# (Linking libprotobuf.so.32 first only lets the process start: sentencepiece then refuses to
# load any model because its version check binds to 3.21.)

if(DPO_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
