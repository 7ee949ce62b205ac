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

# tokenizer.json: PCRE2 (8-bit, for the Split/Replace regexes) and ICU (Unicode normalisation
# and character properties): dpo::pcre2, dpo::icu.
pkg_check_modules(PCRE2 REQUIRED IMPORTED_TARGET libpcre2-8)
add_library(dpo_pcre2 INTERFACE)
target_link_libraries(dpo_pcre2 INTERFACE PkgConfig::PCRE2)
add_library(dpo::pcre2 ALIAS dpo_pcre2)
find_package(ICU COMPONENTS uc data)
add_library(dpo_icu INTERFACE)
if(ICU_FOUND)
  target_link_libraries(dpo_icu INTERFACE ICU::uc ICU::data)
else()
  pkg_check_modules(ICU_UC REQUIRED IMPORTED_TARGET icu-uc)
  target_link_libraries(dpo_icu INTERFACE PkgConfig::ICU_UC)
endif()
add_library(dpo::icu ALIAS dpo_icu)

# LibTorch: Debian's libtorch-dev (1.13, CPU) or the one inside a PyTorch wheel
# (pass -DCMAKE_PREFIX_PATH=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')).
# Or -DDPO_TORCH_PACKAGE=<the torch folder of a wheel>: its headers and libraries taken as they
# are, without its CMake config, which wants the whole CUDA toolkit (with cuDNN and NVTX) found
# before it configures; tools/gpu/build.sh falls back to this.
add_library(dpo_torch INTERFACE)
# The PyTorch wheels' libtorch.so (2.11 at least; pytorch/pytorch#133437) exports copies of 64 of libstdc++'s
# std::filesystem functions, and its copy of remove_all jumps to address 0 when dpo calls it.
# The dynamic linker takes the first definition in the executable's NEEDED order, so libstdc++
# is named before LibTorch (kept even where --as-needed is the linker's default).
target_link_libraries(dpo_torch INTERFACE "-Wl,--push-state,--no-as-needed" stdc++ "-Wl,--pop-state")
if(DPO_TORCH_PACKAGE)
  set(_torch_api ${DPO_TORCH_PACKAGE}/include/torch/csrc/api/include)
  if(NOT EXISTS ${_torch_api}/torch/version.h)
    message(FATAL_ERROR "DPO_TORCH_PACKAGE=${DPO_TORCH_PACKAGE} holds no include/torch/csrc/api/include/torch/version.h")
  endif()
  # LibTorch >= 2.9 keeps the numbers in torch/headeronly/version.h (torch/version.h includes it).
  set(_torch_version_header ${_torch_api}/torch/version.h)
  if(EXISTS ${DPO_TORCH_PACKAGE}/include/torch/headeronly/version.h)
    set(_torch_version_header ${DPO_TORCH_PACKAGE}/include/torch/headeronly/version.h)
  endif()
  file(STRINGS ${_torch_version_header} _torch_version_lines REGEX "define TORCH_VERSION_(MAJOR|MINOR|PATCH) ")
  set(Torch_VERSION "")
  foreach(_line ${_torch_version_lines})
    string(REGEX REPLACE ".* ([0-9]+)$" "\\1" _part "${_line}")
    string(APPEND Torch_VERSION "${_part}.")
  endforeach()
  string(REGEX REPLACE "\\.$" "" Torch_VERSION "${Torch_VERSION}")
  target_include_directories(dpo_torch SYSTEM INTERFACE ${DPO_TORCH_PACKAGE}/include ${_torch_api})
  set(_torch_libs)
  foreach(_name torch torch_cpu c10)
    find_library(DPO_TORCH_LIB_${_name} ${_name} PATHS ${DPO_TORCH_PACKAGE}/lib NO_DEFAULT_PATH REQUIRED)
    list(APPEND _torch_libs ${DPO_TORCH_LIB_${_name}})
  endforeach()
  find_library(DPO_TORCH_LIB_torch_cuda torch_cuda PATHS ${DPO_TORCH_PACKAGE}/lib NO_DEFAULT_PATH)
  find_library(DPO_TORCH_LIB_c10_cuda c10_cuda PATHS ${DPO_TORCH_PACKAGE}/lib NO_DEFAULT_PATH)
  if(DPO_TORCH_LIB_torch_cuda AND DPO_TORCH_LIB_c10_cuda)
    # The CUDA half registers its kernels when loaded; nothing in dpo names it but the memory
    # statistics, so keep it linked.
    list(PREPEND _torch_libs "-Wl,--no-as-needed" ${DPO_TORCH_LIB_torch_cuda} ${DPO_TORCH_LIB_c10_cuda}
         "-Wl,--as-needed")
    # CUDA's runtime headers, which c10/cuda's headers include: the toolkit's or the wheel's.
    find_path(DPO_CUDA_RUNTIME_INCLUDE cuda_runtime_api.h
      HINTS ${CUDAToolkit_ROOT}/include /usr/local/cuda/include
            ${DPO_TORCH_PACKAGE}/../nvidia/cu13/include ${DPO_TORCH_PACKAGE}/../nvidia/cuda_runtime/include)
    if(DPO_CUDA_RUNTIME_INCLUDE)
      target_include_directories(dpo_torch SYSTEM INTERFACE ${DPO_CUDA_RUNTIME_INCLUDE})
    endif()
  endif()
  target_link_libraries(dpo_torch INTERFACE ${_torch_libs} Threads::Threads)
  # The wheel's C++ ABI: python3 -c 'import torch;print(int(torch._C._GLIBCXX_USE_CXX11_ABI))'.
  set(DPO_TORCH_CXX11_ABI 1 CACHE STRING "_GLIBCXX_USE_CXX11_ABI of the LibTorch in DPO_TORCH_PACKAGE")
  target_compile_definitions(dpo_torch INTERFACE _GLIBCXX_USE_CXX11_ABI=${DPO_TORCH_CXX11_ABI})
  message(STATUS "LibTorch ${Torch_VERSION} from ${DPO_TORCH_PACKAGE} (CUDA runtime headers: ${DPO_CUDA_RUNTIME_INCLUDE})")
else()
  find_package(Torch REQUIRED)
  target_link_libraries(dpo_torch INTERFACE ${TORCH_LIBRARIES})
  # TORCH_CXX_FLAGS carries the C++ ABI define that every object linked with LibTorch must share.
  separate_arguments(DPO_TORCH_CXX_FLAGS UNIX_COMMAND "${TORCH_CXX_FLAGS}")
  target_compile_options(dpo_torch INTERFACE ${DPO_TORCH_CXX_FLAGS})
endif()
add_library(dpo::torch ALIAS dpo_torch)

# tcmalloc for the programs that run LibTorch (docs/memory.md, "On the CPU: the allocator"):
# glibc's heap, even tuned to keep freed buffers (core/malloc_tuning.h), ends up holding about
# twice the live peak resident, because every micro-batch has other buffer sizes; tcmalloc's
# size classes reuse freed buffers at the tuned heap's speed. Without the library (Debian:
# libgoogle-perftools-dev) or with -DDPO_TCMALLOC=OFF those programs use glibc's malloc, tuned.
option(DPO_TCMALLOC "Link dpo-torch and the LibTorch benchmarks with tcmalloc" ON)
add_library(dpo_malloc INTERFACE)
if(DPO_TCMALLOC AND NOT DPO_FUZZ)  # the fuzz build's sanitizer brings its own malloc
  pkg_check_modules(TCMALLOC IMPORTED_TARGET libtcmalloc_minimal)
  if(TCMALLOC_FOUND)
    # --no-as-needed: nothing calls tcmalloc by name; it is linked for the malloc it defines.
    target_link_libraries(dpo_malloc INTERFACE -Wl,--no-as-needed PkgConfig::TCMALLOC -Wl,--as-needed)
    message(STATUS "dpo: dpo-torch allocates with tcmalloc ${TCMALLOC_VERSION}")
  else()
    message(WARNING "dpo: libtcmalloc_minimal not found (Debian: libgoogle-perftools-dev): "
      "dpo-torch allocates with glibc's malloc, whose resident peak on the CPU is up to twice "
      "the planned one (docs/memory.md)")
  endif()
endif()
add_library(dpo::malloc ALIAS dpo_malloc)

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
# executable: tokenizer/sentencepiece_shim.cpp is a module loaded with RTLD_DEEPBIND.
# (Linking libprotobuf.so.32 first only lets the process start: sentencepiece then refuses to
# load any model because its version check binds to 3.21.)

if(DPO_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
