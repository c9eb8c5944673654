#!/bin/sh
# Builds the executor (native/executor*.c) as a small static program, against
# musl: glibc's static start-up (CPU feature probing through cpuid, which traps
# to the hypervisor in a VM, and page faults) costs more per container, and
# its binary is many times musl's, copied into a memfd for every container
# (the README's dependency notes have the figures). The kernel's UAPI headers come from the system.
# Usage: sh native/build-executor.sh OUTPUT   (run by node-gyp, binding.gyp)
set -eu
out=$1
here=$(dirname "$0")
multiarch=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
exec musl-gcc -static -Os -std=gnu11 -Wall -Wextra -Werror \
  -idirafter /usr/include -idirafter "/usr/include/$multiarch" \
  -ffunction-sections -fdata-sections -Wl,--gc-sections -s \
  -o "$out" "$here/executor.c" "$here/executor-records.c" "$here/executor-fs.c" "$here/executor-process.c"
