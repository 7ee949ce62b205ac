# Install layout and the Debian package (README.md, "Install"):
#   bin/dpo                                 the command line (no LibTorch)
#   libexec/dpo/dpo-torch                   the LibTorch commands; bin/dpo execv()s it
#   lib/dpo/libdpo_sentencepiece_shim.so    sentencepiece, dlopen'ed by both
# The two executables look for each other and for the shim relative to their own path
# (tools/cli_main.cpp, tokenizer/sentencepiece_model.cpp), so any prefix works.
#   cmake --install build --prefix /opt/dpo
#   cd build && cpack -G DEB                (or: make package)

# Debian's libraries are in the system's search path (no RPATH, as Debian wants); a LibTorch
# outside it (a wheel's: make torch-build's TorchConfig, or -DDPO_TORCH_PACKAGE) is found through
# the RPATH of the link directories.
if(DPO_TORCH_PACKAGE)
  set(_dpo_torch_lib_dir ${DPO_TORCH_PACKAGE}/lib)
elseif(TORCH_LIBRARY AND NOT TORCH_LIBRARY MATCHES "^/usr/lib/")
  get_filename_component(_dpo_torch_lib_dir ${TORCH_LIBRARY} DIRECTORY)
endif()
if(_dpo_torch_lib_dir)
  # The wheel's own libraries find CUDA's (nvidia/*/lib) through their RPATH.
  set_target_properties(dpo dpo-torch PROPERTIES INSTALL_RPATH_USE_LINK_PATH ON)
  set_property(TARGET dpo-torch APPEND PROPERTY INSTALL_RPATH ${_dpo_torch_lib_dir})
endif()
install(TARGETS dpo RUNTIME DESTINATION bin)
install(TARGETS dpo-torch RUNTIME DESTINATION libexec/dpo)
install(TARGETS dpo_sentencepiece_shim LIBRARY DESTINATION lib/dpo)

set(CPACK_PACKAGE_NAME dpo)
set(CPACK_PACKAGE_VENDOR "dpo")
set(CPACK_PACKAGE_CONTACT "dpo maintainers <dpo@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "Direct Preference Optimization for Hugging Face checkpoints (C++, LibTorch)")
set(CPACK_PACKAGE_DESCRIPTION
    "Validate preference data, prepare it, train with DPO, check and compare datasets.")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION science)
# dpkg-shlibdeps computes Depends from the ELF files (libtorch1.13, libsentencepiece0,
# libhdf5-cpp-103-1, libsimdjson14, ...); without it (not a Debian system) the list is written.
find_program(DPO_DPKG_SHLIBDEPS dpkg-shlibdeps)
if(DPO_DPKG_SHLIBDEPS)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
else()
  set(CPACK_DEBIAN_PACKAGE_DEPENDS
      "libtorch1.13, libsentencepiece0, libhdf5-cpp-103-1, libhdf5-103-1, libsimdjson14, "
      "libssl3, libxxhash0, zlib1g, libpcre2-8-0, libicu72, libtcmalloc-minimal4, "
      "libopenblas0-pthread | libblas3, libstdc++6, libc6")
endif()
# set_cpu_threads (model/cpu_runtime.h) keeps the pthread OpenBLAS from oversubscribing.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "libopenblas0-pthread")
include(CPack)
