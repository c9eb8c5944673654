#!/bin/busybox sh
# /init of the v2 guest's initramfs (built by run.sh; runs as pid 1 under busybox).
# Loads the virtio/9p/overlay modules, mounts the host's / (read-only 9p) as the
# guest's root with tmpfs on /tmp, /run, /var/tmp and /var/lib, a pure cgroup2
# hierarchy at /sys/fs/cgroup with every controller enabled for its children,
# runs /xfer/cmd.sh there (stdout/stderr on the virtio-serial ports "stdout"
# and "stderr"), writes the exit status to /xfer/status and powers off; with
# v2systemd=1 it hands the same root to systemd instead (see below).
/bin/busybox --install -s /bin
export PATH=/bin
# run.sh puts v2trace=1 on the kernel command line when V2_GUEST_DEBUG=1.
[ "$v2trace" = 1 ] && set -x
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

halt_now() { sync; poweroff -f; sleep 5; exit 1; }
fail() {
  echo "v2-guest init: $*" > /dev/ttyS0
  [ -d /xfer/. ] && echo "$*" > /xfer/error
  halt_now
}

while read -r m; do
  insmod "/lib/modules/$m" || fail "insmod $m failed"
done < /modules.order

P9="trans=virtio,version=9p2000.L,msize=512000"
mount -t 9p -o "$P9" xfer /xfer || fail "cannot mount the xfer share"
mount -t 9p -o "$P9,ro,cache=loose" hostroot /host || fail "cannot mount the host's /"

R=/newroot
if [ "$v2systemd" = 1 ]; then
  # systemd takes a /.dockerenv (this host's root has one) for a container and would then ignore
  # the kernel command line: the root is an overlay on the host's, without that file
  mkdir -p /upper && mount -t tmpfs -o mode=755 tmpfs /upper && mkdir -p /upper/u /upper/w
  mount -t overlay -o lowerdir=/host,upperdir=/upper/u,workdir=/upper/w overlay $R || fail "cannot overlay the host's /"
  rm -f $R/.dockerenv
else
  mount --bind /host $R
fi
mount -t proc proc $R/proc
mount -t sysfs sysfs $R/sys
mount -t devtmpfs devtmpfs $R/dev
mkdir -p $R/dev/pts $R/dev/shm $R/dev/mqueue
mount -t devpts -o newinstance,ptmxmode=0666,mode=620,gid=5 devpts $R/dev/pts
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs $R/dev/shm
mount -t mqueue mqueue $R/dev/mqueue 2>/dev/null
[ -e $R/dev/fd ] || ln -s /proc/self/fd $R/dev/fd
[ -e $R/dev/stdin ] || ln -s /proc/self/fd/0 $R/dev/stdin
[ -e $R/dev/stdout ] || ln -s /proc/self/fd/1 $R/dev/stdout
[ -e $R/dev/stderr ] || ln -s /proc/self/fd/2 $R/dev/stderr

# Pure cgroup v2, delegation-safe, every controller available to children.
mount -t cgroup2 -o nsdelegate cgroup2 $R/sys/fs/cgroup || fail "cannot mount cgroup2"
for c in $(cat $R/sys/fs/cgroup/cgroup.controllers); do
  echo "+$c" > $R/sys/fs/cgroup/cgroup.subtree_control || fail "cannot enable $c"
done
mount -t bpf bpf $R/sys/fs/bpf 2>/dev/null

mount -t tmpfs -o mode=1777 tmpfs $R/tmp
mount -t tmpfs -o mode=755 tmpfs $R/run
mount -t tmpfs -o mode=1777 tmpfs $R/var/tmp
mount -t tmpfs -o mode=755 tmpfs $R/var/lib
mkdir -p $R/run/lock $R/run/user
# A working directory hidden by those tmpfs mounts is bound back from the host.
WD=$(cat /xfer/workdir)
for t in /tmp /run /var/tmp /var/lib; do
  case "$WD/" in
    "$t"/*)
      mkdir -p "$R$WD" && mount --bind "/host$WD" "$R$WD" || fail "cannot bind $WD" ;;
  esac
done

hostname v2-guest
ip link set lo up 2>/dev/null

# The virtio-serial ports, by name.
for p in /sys/class/virtio-ports/*; do
  case "$(cat "$p/name")" in
    stdout) OUT=/dev/${p##*/} ;;
    stderr) ERR=/dev/${p##*/} ;;
  esac
done
[ -n "$OUT" ] && [ -n "$ERR" ] || fail "virtio-serial ports not found"

# v2systemd=1 (V2_GUEST_SYSTEMD=1): systemd 252 boots as pid 1 and runs the
# command as v2-guest.service (systemd.unit= on the kernel command line). Its
# unit path holds only that unit and the D-Bus system bus (dbus.socket,
# dbus.service), which skip systemd's default dependencies (sysinit.target and
# all it pulls in); the generators are masked (each exec costs a tenth of a
# second under emulation).
if [ "$v2systemd" = 1 ]; then
  X=/run/v2-guest
  U=/run/v2-guest-units
  mkdir -p $R$X $R$U/dbus.socket.d $R$U/dbus.service.d $R/run/systemd/system-generators
  mount --move /xfer $R$X || fail "cannot move the xfer share"
  for g in /host/lib/systemd/system-generators/*; do
    ln -sf /dev/null "$R/run/systemd/system-generators/${g##*/}"
  done
  cp /host/lib/systemd/system/dbus.socket /host/lib/systemd/system/dbus.service $R$U/ || fail "no dbus units (install dbus)"
  printf '[Unit]\nDefaultDependencies=no\n' > $R$U/dbus.socket.d/v2-guest.conf
  printf '[Unit]\nDefaultDependencies=no\n' > $R$U/dbus.service.d/v2-guest.conf
  cat > $R$U/v2-guest.service <<UNIT
[Unit]
Description=the v2 guest's command
DefaultDependencies=no
Wants=dbus.service
After=dbus.service

[Service]
Type=simple
ExecStart=/bin/busybox sh /run/v2-guest-run.sh
StandardInput=null
StandardOutput=file:$OUT
StandardError=file:$ERR
UNIT
  # the command's status and uptimes go back as in the plain mode; power-off at once after
  cat > $R/run/v2-guest-run.sh <<'WRAP'
read -r UP0 _ < /proc/uptime
/bin/bash -c "$(cat /run/v2-guest/cmd.sh)" < /dev/null
rc=$?
read -r UP1 _ < /proc/uptime
echo "$UP0 $UP1" > /run/v2-guest/times
echo "$rc" > /run/v2-guest/status
sync
/bin/busybox poweroff -f
WRAP
  # systemd reads only these units: loading the host's hundreds over 9p took ~10 s of the boot
  export SYSTEMD_UNIT_PATH=$U
  exec switch_root $R /lib/systemd/systemd
fi

read -r UP0 _ < /proc/uptime
# (A subshell, so that ash's "Killed" notice goes to the console, not $ERR.)
# The command's root is not a chroot but its mount namespace's root, moved onto
# / as switch_root does (in a namespace of its own, so pid 1 keeps /xfer): the
# kernel refuses a chrooted process a user namespace, which rootless needs.
CMD=$(cat /xfer/cmd.sh)
( exec unshare -m sh -c 'cd "$1" && mount --move . / && exec chroot . /bin/bash -c "$2"' - $R "$CMD" ) < /dev/null > "$OUT" 2> "$ERR"
rc=$?
read -r UP1 _ < /proc/uptime
# Whatever the command left running goes now (pid 1 survives kill -1).
kill -9 -1 2>/dev/null
echo "$UP0 $UP1" > /xfer/times
echo "$rc" > /xfer/status
umount /xfer
halt_now
