#!/usr/bin/env python3
"""Where the shared libraries of a dpo device bundle's programs come from (tools/gpu/bundle.sh).

Two checks, each printing one line per library and exiting 1 when a library comes from anywhere
but the bundle itself, the torch wheel's installation (torch/lib and the nvidia-* packages beside
it in site-packages) or the base system (glibc, libstdc++, libgcc_s and the CUDA driver):

  bundle_audit.py ldd --bundle DIR --site SITE_PACKAGES --library-path LD_LIBRARY_PATH
      runs `ldd` with that search path (env.sh's) on every ELF file in DIR/bin and DIR/lib:
      what the loader resolves before a program starts.
  bundle_audit.py ld-debug --bundle DIR --site SITE_PACKAGES LOG...
      reads the logs of programs run with LD_DEBUG=libs,files LD_DEBUG_OUTPUT=PREFIX (one file
      per process, PREFIX.<pid>): every object each process actually loaded, those it opened with
      dlopen() (the sentencepiece shim) and those of the processes it exec'd (dpo -> dpo-torch)
      included.

Python's standard library only; run it with `env -u LD_LIBRARY_PATH python3`.
"""
import argparse
import os
import re
import subprocess
import sys

# Present on any glibc system a PyTorch wheel runs on, never bundled: glibc's libraries, the
# C++ runtime of GCC, the kernel's vDSO and the CUDA driver (which comes with the GPU).
BASE_SONAMES = {
    "linux-vdso.so.1", "ld-linux-x86-64.so.2", "libc.so.6", "libm.so.6", "libdl.so.2",
    "libpthread.so.0", "librt.so.1", "libresolv.so.2", "libutil.so.1", "libanl.so.1",
    "libstdc++.so.6", "libgcc_s.so.1", "libcuda.so.1", "libnvidia-ml.so.1",
}


def classify(path, bundle, site):
    """'bundle', 'wheel', 'base' or 'FOREIGN' for a loaded object's path."""
    real = os.path.realpath(path)
    if real.startswith(bundle + os.sep):
        return "bundle"
    if real.startswith(site + os.sep):
        return "wheel"
    name = os.path.basename(path)
    if name in BASE_SONAMES or os.path.basename(real) in BASE_SONAMES:
        return "base"
    # glibc's files are links to versioned names on some systems (libc-2.31.so).
    if re.match(r"^(ld|libc|libm|libdl|libpthread|librt|libresolv|libutil)-[0-9.]+\.so$", name):
        return "base"
    return "FOREIGN"


def report(found, what):
    """found: {path: set of programs}. Prints the table, returns the number of foreign objects."""
    counts = {}
    foreign = 0
    for path in sorted(found):
        kind = found[path][0]
        counts[kind] = counts.get(kind, 0) + 1
        users = sorted(found[path][1])
        shown = ", ".join(users[:3]) + (" ..." if len(users) > 3 else "")
        print(f"  {kind:8} {path}   ({shown})")
        if kind == "FOREIGN":
            foreign += 1
    summary = ", ".join(f"{counts[k]} {k}" for k in sorted(counts))
    print(f"{what}: {len(found)} objects ({summary})")
    return foreign


def ldd_check(args):
    # The loader's search path of the bundle's programs (env.sh's), not this Python's.
    env = dict(os.environ, LD_LIBRARY_PATH=args.library_path)
    found = {}
    missing = []
    for folder in ("bin", "lib"):
        directory = os.path.join(args.bundle, folder)
        for name in sorted(os.listdir(directory)):
            path = os.path.join(directory, name)
            with open(path, "rb") as f:
                if f.read(4) != b"\x7fELF":
                    continue
            out = subprocess.run(["ldd", path], capture_output=True, text=True, env=env).stdout
            for line in out.splitlines():
                line = line.strip()
                if "=> not found" in line:
                    missing.append(f"{folder}/{name}: {line.split()[0]} not found")
                    continue
                m = re.match(r"^(\S+) => (\S+) \(0x", line) or re.match(r"^(/\S+) \(0x", line)
                if not m:
                    continue  # linux-vdso.so.1 (0x...), statically linked
                target = m.group(m.lastindex)
                entry = found.setdefault(target, [classify(target, args.bundle, args.site), set()])
                entry[1].add(f"{folder}/{name}")
    foreign = report(found, "ldd of every program and library in the bundle")
    for line in missing:
        print("  MISSING  " + line)
    return foreign + len(missing)


def ld_debug_check(args):
    """Objects loaded per LD_DEBUG=libs,files log: for a library searched by name, the last
    `trying file=` before its `generating link map`; for one opened by path, that path."""
    found = {}
    processes = 0
    for log in args.logs:
        processes += 1
        with open(log, errors="replace") as f:
            lines = [raw.split(":", 1)[1].strip() if ":" in raw else raw.strip() for raw in f]
        # dpo exec()s dpo-torch in the same process: one log, two programs.
        programs = sorted({os.path.basename(line.split(":", 1)[1].strip())
                           for line in lines if line.startswith("initialize program:")})
        label = "+".join(programs) or os.path.basename(log)
        last_try = None
        for line in lines:
            if line.startswith("find library="):
                last_try = None
            elif line.startswith("trying file="):
                last_try = line[len("trying file="):].strip()
            m = re.match(r"^file=(\S+) \[\d+\];\s+generating link map", line)
            if m:
                name = m.group(1)
                path = name if "/" in name else (last_try or name)
                entry = found.setdefault(path, [classify(path, args.bundle, args.site), set()])
                entry[1].add(label)
                last_try = None
    if processes == 0:
        print("no LD_DEBUG logs given")
        return 1
    return report(found, f"objects loaded by {processes} processes (LD_DEBUG)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mode", choices=["ldd", "ld-debug"])
    parser.add_argument("--bundle", required=True)
    parser.add_argument("--site", required=True, help="the site-packages folder holding torch")
    parser.add_argument("--library-path", default="",
                        help="ldd: the LD_LIBRARY_PATH the programs run with (env.sh's)")
    parser.add_argument("logs", nargs="*")
    args = parser.parse_intermixed_args()
    args.bundle = os.path.realpath(args.bundle)
    args.site = os.path.realpath(args.site)
    bad = ldd_check(args) if args.mode == "ldd" else ld_debug_check(args)
    if bad:
        print(f"FAILED: {bad} object(s) from outside the bundle, the wheel and the base system")
        return 1
    print("OK: only the bundle's own libraries, the torch wheel's and the base system's")
    return 0


if __name__ == "__main__":
    sys.exit(main())
