# The environment of a dpo build on a GPU machine (tools/gpu/build.sh): the Debian packages
# unpacked into $DPO_PREFIX are found by pkg-config, CMake and the dynamic loader.
# Source it: `source tools/gpu/env.sh`. Run python with `env -u LD_LIBRARY_PATH python3`.
DPO_PREFIX=${DPO_PREFIX:-/tmp/dpo-prefix}
DPO_LIBDIR=$DPO_PREFIX/usr/lib/x86_64-linux-gnu
export DPO_PREFIX DPO_LIBDIR
export PATH=$DPO_PREFIX/usr/bin:$PATH
export PKG_CONFIG_LIBDIR=$DPO_LIBDIR/pkgconfig:$DPO_PREFIX/usr/share/pkgconfig
export PKG_CONFIG_SYSROOT_DIR=$DPO_PREFIX
export LD_LIBRARY_PATH=$DPO_LIBDIR:$DPO_LIBDIR/hdf5/serial${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
