#!/usr/bin/env bash
# Run a command inside a QEMU guest (Debian's kernel, software emulation)
# whose /sys/fs/cgroup is a pure cgroup2 mount with every controller enabled.
# The guest sees the host's / read-only over virtio-9p (so it runs the host's
# node, runc and this checkout), with tmpfs on /tmp, /run, /var/tmp and /var/lib.
# The command's stdout/stderr come back over virtio-serial ports, its exit
# status over a writable 9p share; this script exits with that status.
#
# Usage: test/v2-guest/run.sh [-C DIR] [-e NAME=VALUE]... [--] COMMAND [ARG]...
#        test/v2-guest/run.sh [options] -- 'shell snippet'   (one argument: bash -c)
#   -C DIR         working directory in the guest (default: the current one)
#   -e NAME=VALUE  extra environment variable for the command
# Environment:
#   V2_GUEST_DEBUG=1       show the guest kernel console (boot messages) on stderr
#   V2_GUEST_MEM=2G        guest memory      V2_GUEST_SMP=2   guest CPUs
#   V2_GUEST_TIMEOUT=1800  seconds before the guest is killed (exit 124)
#   V2_GUEST_KERNEL=VER    kernel version (default: newest /boot/vmlinuz-* with modules)
#   V2_GUEST_COMPRESSED=1  boot the compressed vmlinuz instead of the extracted vmlinux
#   V2_GUEST_CACHE=DIR     where the extracted kernel and initramfs are kept
#                          (default /var/cache/tcr-v2-guest)
#   V2_GUEST_CPU=max       QEMU -cpu model
#   V2_GUEST_TIMING=1      print boot/command timings on stderr
#   V2_GUEST_SYSTEMD=1     boot systemd as pid 1 (with the D-Bus system bus) and
#                          run the command as its unit v2-guest.service
# Exit status: the command's; 124 on timeout; 125 if the guest failed to report.
set -euo pipefail

die() { echo "v2-guest: $*" >&2; exit 125; }
now() { echo "$EPOCHREALTIME"; }
T0=$(now)

WORKDIR=$PWD
EXTRA_ENV=()
while [ $# -gt 0 ]; do
  case "$1" in
    -C) WORKDIR=$2; shift 2 ;;
    -e) [[ "$2" == *=* ]] || die "-e wants NAME=VALUE"; EXTRA_ENV+=("$2"); shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    --) shift; break ;;
    -*) die "unknown option $1" ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || die "no command given (try --help)"
WORKDIR=$(cd "$WORKDIR" && pwd -P) || die "no such directory"

[ "$(id -u)" = 0 ] || die "must run as root"
DEBUG=${V2_GUEST_DEBUG:-0}
MEM=${V2_GUEST_MEM:-2G}
SMP=${V2_GUEST_SMP:-2}
TIMEOUT=${V2_GUEST_TIMEOUT:-1800}
CACHE=${V2_GUEST_CACHE:-/var/cache/tcr-v2-guest}

# ---------------------------------------------------------------- packages
need_pkgs=()
command -v qemu-system-x86_64 >/dev/null || need_pkgs+=(qemu-system-x86)
# The newest kernel with its modules (or V2_GUEST_KERNEL).
find_kver() {
  local f v k=
  if [ -n "${V2_GUEST_KERNEL:-}" ]; then echo "$V2_GUEST_KERNEL"; return; fi
  for f in $(ls /boot/vmlinuz-* 2>/dev/null | sort -V); do
    v=${f#/boot/vmlinuz-}
    [ -d "/lib/modules/$v" ] && k=$v
  done
  echo "$k"
}
[ -n "$(find_kver)" ] || need_pkgs+=(linux-image-amd64)
dpkg -s busybox-static >/dev/null 2>&1 || need_pkgs+=(busybox-static)
command -v cpio >/dev/null || need_pkgs+=(cpio)
command -v xz >/dev/null || need_pkgs+=(xz-utils)
command -v zstd >/dev/null || need_pkgs+=(zstd)
SYSTEMD=${V2_GUEST_SYSTEMD:-0}
if [ "$SYSTEMD" = 1 ]; then
  [ -x /lib/systemd/systemd ] || need_pkgs+=(systemd)
  [ -x /usr/bin/dbus-daemon ] || need_pkgs+=(dbus)
fi
if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "v2-guest: installing ${need_pkgs[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  { apt-get install -y --no-install-recommends "${need_pkgs[@]}" ||
    { apt-get update && apt-get install -y --no-install-recommends "${need_pkgs[@]}"; }; } >&2 ||
    die "apt-get install ${need_pkgs[*]} failed"
fi

# ---------------------------------------------------------------- kernel
KVER=$(find_kver)
[ -n "$KVER" ] && [ -f "/boot/vmlinuz-$KVER" ] && [ -d "/lib/modules/$KVER" ] ||
  die "no /boot/vmlinuz-VER with /lib/modules/VER (install linux-image-amd64)"
VMLINUZ=/boot/vmlinuz-$KVER
KCACHE=$CACHE/$KVER
mkdir -p "$KCACHE"

# Everything cached is built under a lock, into a temp name, then renamed.
exec 9>"$KCACHE/.lock"
flock 9

# The uncompressed kernel: the vmlinuz is a boot stub followed by a compressed
# ELF vmlinux; find the compressor's magic and decompress from there (like the
# kernel's scripts/extract-vmlinux). QEMU boots the ELF through its PVH entry.
extract_vmlinux() {
  local out=$1 tmp=$1.tmp magic dec off
  for pair in '\x1f\x8b\x08:gzip -dc' '\xfd7zXZ\x00:xz -dc --single-stream' \
              '\x28\xb5\x2f\xfd:zstd -dcq' '\x5d\x00\x00\x00:xz -dc --format=lzma' \
              '\x02\x21\x4c\x18:lz4 -dc' '\x89\x4c\x5a\x4f:lzop -dc' 'BZh:bzip2 -dc'; do
    magic=${pair%%:*}; dec=${pair#*:}
    for off in $(LC_ALL=C grep -aboP "$magic" "$VMLINUZ" 2>/dev/null | cut -d: -f1 | head -5); do
      tail -c +$((off + 1)) "$VMLINUZ" | $dec > "$tmp" 2>/dev/null || true
      if [ "$(head -c 4 "$tmp" | od -An -c | tr -d ' ')" = '177ELF' ]; then
        mv "$tmp" "$out"; return 0
      fi
    done
  done
  rm -f "$tmp"; return 1
}
KERNEL=$VMLINUZ
if [ "${V2_GUEST_COMPRESSED:-0}" != 1 ]; then
  if [ -s "$KCACHE/vmlinux" ] || extract_vmlinux "$KCACHE/vmlinux"; then
    # An ELF kernel is only bootable through PVH (CONFIG_PVH=y).
    if grep -q '^CONFIG_PVH=y' "/boot/config-$KVER" 2>/dev/null; then
      KERNEL=$KCACHE/vmlinux
    fi
  fi
fi

# The initramfs: busybox, the modules for virtio/9p/overlay, and /init.
MODULES="virtio_pci virtio_console 9pnet_virtio 9p overlay"
INIT_SRC=$(dirname "$(readlink -f "$0")")/guest-init.sh
[ -f "$INIT_SRC" ] || die "missing $INIT_SRC"
KEY=$( { cat "$INIT_SRC"; echo "$MODULES"; sha256sum /bin/busybox; } | sha256sum | cut -c1-16)
INITRD=$KCACHE/initrd-$KEY.cpio
if [ ! -s "$INITRD" ]; then
  rm -f "$KCACHE"/initrd-*.cpio
  d=$(mktemp -d "$KCACHE/initrd.XXXXXX")
  mkdir -p "$d/bin" "$d/lib/modules" "$d/proc" "$d/sys" "$d/dev" "$d/newroot" "$d/host" "$d/xfer"
  cp /bin/busybox "$d/bin/busybox"
  cp "$INIT_SRC" "$d/init"; chmod 755 "$d/init"
  # Resolve dependencies from modules.dep; load order = dependencies first.
  declare -A seen=()
  order=()
  moddep=/lib/modules/$KVER/modules.dep
  add_mod() { # $1: path relative to /lib/modules/KVER
    local p=$1 deps dep
    [ -n "${seen[$p]:-}" ] && return 0
    seen[$p]=1
    deps=$(grep -m1 "^${p}:" "$moddep" | cut -d: -f2-)
    for dep in $deps; do add_mod "$dep"; done
    order+=("$p")
  }
  for m in $MODULES; do
    p=$(grep -m1 -E "/${m}\.ko(\.xz|\.zst|\.gz)?:" "$moddep" | cut -d: -f1) || true
    if [ -z "$p" ]; then
      # Built in? Then there is nothing to load.
      grep -qE "/${m}\.ko" "/lib/modules/$KVER/modules.builtin" 2>/dev/null && continue
      die "module $m not found for kernel $KVER"
    fi
    add_mod "$p"
  done
  : > "$d/modules.order"
  for p in "${order[@]}"; do
    b=$(basename "$p"); b=${b%.xz}; b=${b%.zst}; b=${b%.gz}
    src=/lib/modules/$KVER/$p
    case "$p" in
      *.xz) xz -dc "$src" > "$d/lib/modules/$b" ;;
      *.zst) zstd -dcq "$src" > "$d/lib/modules/$b" ;;
      *.gz) gzip -dc "$src" > "$d/lib/modules/$b" ;;
      *) cp "$src" "$d/lib/modules/$b" ;;
    esac
    echo "$b" >> "$d/modules.order"
  done
  (cd "$d" && find . -print0 | cpio --null -o -H newc --quiet) > "$INITRD.tmp"
  mv "$INITRD.tmp" "$INITRD"
  rm -rf "$d"
fi
flock -u 9
exec 9>&-
T_PREP=$(now)

# ---------------------------------------------------------------- one run
# Temp dirs of runs that were SIGKILLed (their owner is gone) are removed first.
for d in "${TMPDIR:-/tmp}"/tcr-v2-guest.*; do
  [ -f "$d/owner" ] && ! kill -0 "$(cat "$d/owner")" 2>/dev/null && rm -rf "$d"
done
XFER=$(mktemp -d "${TMPDIR:-/tmp}/tcr-v2-guest.XXXXXX")
echo $$ > "$XFER/owner"
QEMU_PID=
CAT_PIDS=()
cleanup() {
  local rc=$?
  if [ -n "$QEMU_PID" ] && kill -0 "$QEMU_PID" 2>/dev/null; then
    # timeout(1) passes the TERM on to QEMU (and KILLs it 5 s later if needed).
    kill "$QEMU_PID" 2>/dev/null || true
    wait "$QEMU_PID" 2>/dev/null || true
  fi
  for p in "${CAT_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$XFER"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The command, as a bash script run in the guest's root (the host's /).
{
  echo "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$(printf %q "$PATH")"
  echo "export HOME=/root LANG=C.UTF-8 TERM=dumb V2_GUEST=1 CI=$(printf %q "${CI:-}")"
  for e in "${EXTRA_ENV[@]}"; do echo "export $(printf %q "$e")"; done
  echo "cd $(printf %q "$WORKDIR") || exit 125"
  if [ $# -eq 1 ]; then
    printf 'exec bash -c %q\n' "$1"
  else
    printf 'exec'; printf ' %q' "$@"; printf '\n'
  fi
} > "$XFER/cmd.sh"
printf '%s\n' "$WORKDIR" > "$XFER/workdir"

# stdout/stderr stream through fifos that QEMU's file chardevs write into.
mkfifo "$XFER/out" "$XFER/err"
cat "$XFER/out" & CAT_PIDS+=($!)
cat "$XFER/err" >&2 & CAT_PIDS+=($!)

APPEND="console=ttyS0 panic=-1 oops=panic rdinit=/init tsc=reliable no_timer_check"
APPEND+=" cryptomgr.notests random.trust_cpu=on mitigations=off"
if [ "$SYSTEMD" = 1 ]; then
  APPEND+=" v2systemd=1 systemd.unit=v2-guest.service systemd.show_status=0 systemd.unified_cgroup_hierarchy=1"
  [ "$DEBUG" = 1 ] || APPEND+=" systemd.log_level=warning"
fi
if [ "$DEBUG" = 1 ]; then
  APPEND+=" loglevel=7 v2trace=1 ${V2_GUEST_APPEND:-}"
  SERIAL=(-chardev stdio,id=con,signal=off -serial chardev:con)
else
  APPEND+=" quiet loglevel=1 ${V2_GUEST_APPEND:-}"
  SERIAL=(-chardev file,id=con,path="$XFER/console.log" -serial chardev:con)
fi

# QEMU dies with this script even if it is SIGKILLed (PR_SET_PDEATHSIG through
# setpriv, on timeout and on QEMU), and is stopped by timeout(1) after TIMEOUT.
PDEATH=()
setpriv --help 2>/dev/null | grep -q -- --pdeathsig && PDEATH=(setpriv --pdeathsig KILL)
"${PDEATH[@]}" timeout -k 5 "$TIMEOUT" "${PDEATH[@]}" qemu-system-x86_64 \
  -accel tcg -cpu "${V2_GUEST_CPU:-max}" -smp "$SMP" -m "$MEM" \
  -M pc -vga none -nodefaults -no-user-config -display none -no-reboot \
  -kernel "$KERNEL" -initrd "$INITRD" -append "$APPEND" \
  "${SERIAL[@]}" \
  -fsdev local,id=root,path=/,security_model=none,readonly=on,multidevs=remap \
  -device virtio-9p-pci,fsdev=root,mount_tag=hostroot \
  -fsdev local,id=xfer,path="$XFER",security_model=none,multidevs=remap \
  -device virtio-9p-pci,fsdev=xfer,mount_tag=xfer \
  -device virtio-serial-pci,id=vser \
  -chardev file,id=out,path="$XFER/out" -device virtserialport,bus=vser.0,chardev=out,name=stdout \
  -chardev file,id=err,path="$XFER/err" -device virtserialport,bus=vser.0,chardev=err,name=stderr \
  </dev/null >&2 &
QEMU_PID=$!
qemu_rc=0
wait "$QEMU_PID" || qemu_rc=$?
QEMU_PID=
# Let the fifo readers finish: a reader still waiting for QEMU to open its fifo
# (QEMU failed early) is released by an open and close of our own; a reader
# still draining sees EOF once the last writer is gone.
for f in out err; do exec 3<>"$XFER/$f"; exec 3>&-; done
for p in "${CAT_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
CAT_PIDS=()
if [ "$qemu_rc" = 124 ] || [ "$qemu_rc" = 137 ] && [ ! -s "$XFER/status" ]; then
  echo "v2-guest: timed out after ${TIMEOUT}s (rerun with V2_GUEST_DEBUG=1)" >&2
  [ -s "$XFER/console.log" ] && tail -n 30 "$XFER/console.log" >&2
  exit 124
fi
T_END=$(now)

if [ ! -s "$XFER/status" ]; then
  echo "v2-guest: the guest reported no exit status (rerun with V2_GUEST_DEBUG=1)" >&2
  [ -s "$XFER/console.log" ] && tail -n 30 "$XFER/console.log" >&2
  exit 125
fi
read -r STATUS < "$XFER/status"
if [ "${V2_GUEST_TIMING:-0}" = 1 ]; then
  read -r T_CMD0 T_CMD1 < "$XFER/times" 2>/dev/null || true
  awk -v t0="$T0" -v tp="$T_PREP" -v te="$T_END" -v up0="${T_CMD0:-0}" -v up1="${T_CMD1:-0}" 'BEGIN {
    printf "v2-guest: prepare %.2fs, guest boot to command %.2fs (uptime), command %.2fs, total %.2fs: overhead %.2fs\n",
      tp - t0, up0, up1 - up0, te - t0, te - t0 - (up1 - up0) }' >&2
fi
exit "$STATUS"
