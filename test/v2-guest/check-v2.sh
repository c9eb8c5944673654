#!/usr/bin/env bash
# Verifies the pure cgroup v2 environment of the v2 guest. Runs INSIDE the guest:
#   test/v2-guest/run.sh test/v2-guest/check-v2.sh
# Prints TAP-like "ok"/"not ok" lines; exits 1 if any check failed.
# (Under emulation every exec of a dynamically linked program costs 0.1-0.3 s,
# so this script reads files with bash builtins and runs the static busybox.)
set -uo pipefail

if [ "${V2_GUEST:-}" != 1 ] || [ "$(stat -f -c %T /sys/fs/cgroup)" != cgroup2fs ]; then
  echo "check-v2: run me inside the guest: test/v2-guest/run.sh $0" >&2
  exit 2
fi

here=$(cd "$(dirname "$0")" && pwd)
CG=/sys/fs/cgroup
BB=/bin/busybox
failed=0
n=0
T0=${EPOCHREALTIME/./}
ms() { echo $(( (${EPOCHREALTIME/./} - T0) / 1000 )); }
ok() { n=$((n + 1)); echo "ok $n - $* [$(ms) ms]"; }
nok() { n=$((n + 1)); echo "not ok $n - $* [$(ms) ms]"; failed=1; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else nok "$what"; fi; }
field() { local k v; while read -r k v; do [ "$k" = "$2" ] && { echo "$v"; return; }; done < "$1"; }
oneline() { local l out=; while read -r l; do out+="$l; "; done < "$1"; echo "$out"; }
pause() { $BB sleep "$1"; }
# in_cg CGROUP CMDLINE: runs the command line (busybox sh) as a process of CGROUP.
in_cg() { $BB sh -c "echo \$\$ > $1/cgroup.procs && exec $2"; }

echo "# kernel $(</proc/sys/kernel/osrelease), $($BB nproc) CPUs, $(field /proc/meminfo MemTotal:) memory"
while read -r line; do
  [[ "$line" == *" /sys/fs/cgroup "* ]] && echo "# mountinfo: $line"
done < /proc/self/mountinfo
echo "# cgroup.controllers:     $(<$CG/cgroup.controllers)"
echo "# cgroup.subtree_control: $(<$CG/cgroup.subtree_control)"
echo "# /proc/self/cgroup:      $(</proc/self/cgroup)"
for c in cpuset cpu io memory hugetlb pids; do
  check "controller $c enabled for children" eval '[[ " $(<$CG/cgroup.subtree_control) " == *" $c "* ]]'
done

# A delegated subtree: v2check (every controller enabled below it) with one
# leaf per check, as a container runtime would lay it out.
G=$CG/v2check
for d in $G/*/ $G/; do [ -d "$d" ] && rmdir "$d"; done 2>/dev/null
mkdir $G
for c in $(<$G/cgroup.controllers); do echo "+$c" > $G/cgroup.subtree_control; done
check "child cgroup has every controller" \
  test "$(<$G/cgroup.controllers)" = "$(<$CG/cgroup.subtree_control)"
check "and delegates them all to its children" \
  test "$(<$G/cgroup.subtree_control)" = "$(<$CG/cgroup.subtree_control)"

# ---- memory.max: a 64 MiB buffer gets the process OOM-killed
M=$G/mem; mkdir $M
echo 32M > $M/memory.max
echo 0 > $M/memory.swap.max
check "memory.max = 32M" test "$(<$M/memory.max)" = 33554432
(in_cg $M "$BB dd if=/dev/zero of=/dev/null bs=64M count=1") 2>/dev/null
rc=$?
echo "# dd bs=64M in the 32M cgroup: exit $rc; memory.events: $(oneline $M/memory.events)"
check "64M allocation under memory.max=32M is OOM-killed (exit 137)" test $rc = 137
check "memory.events oom_kill = 1" test "$(field $M/memory.events oom_kill)" = 1
in_cg $M "$BB dd if=/dev/zero of=/dev/null bs=8M count=1" 2>/dev/null
check "8M allocation under memory.max=32M succeeds" test $? = 0

# ---- pids.max: a fork bomb stops at 10 tasks
P=$G/pids; mkdir $P
echo 10 > $P/pids.max
check "pids.max = 10" test "$(<$P/pids.max)" = 10
in_cg $P "$BB sh -c 'bomb() { bomb | bomb & sleep 60; }; bomb'" 2>/dev/null &
peak=0
for _ in $(seq 20); do
  cur=$(<$P/pids.current); [ "$cur" -gt $peak ] && peak=$cur; pause 0.1
done
pev=$(field $P/pids.events max)
echo "# fork bomb: pids.current $cur (peak seen $peak), pids.events max $pev"
check "fork bomb held at pids.max (pids.current $cur, peak seen $peak)" test "$peak" -le 10 -a "$cur" -le 10
check "pids.events max > 0 (forks refused)" test "${pev:-0}" -gt 0
echo 1 > $P/cgroup.kill
for _ in $(seq 50); do [ "$(<$P/pids.current)" = 0 ] && break; pause 0.1; done
check "cgroup.kill empties the cgroup" test "$(<$P/pids.current)" = 0
wait 2>/dev/null

# ---- cgroup.freeze: a busy loop gets no CPU while frozen
F=$G/freeze; mkdir $F
in_cg $F "$BB sh -c 'while :; do :; done'" 2>/dev/null &
loop=$!
pause 0.5
echo 1 > $F/cgroup.freeze
for _ in $(seq 50); do [ "$(field $F/cgroup.events frozen)" = 1 ] && break; pause 0.1; done
check "cgroup.events frozen = 1" test "$(field $F/cgroup.events frozen)" = 1
check "the frozen process sleeps ($(field /proc/$loop/status State:))" test "$(field /proc/$loop/status State:)" = "S (sleeping)"
a=$(field $F/cpu.stat usage_usec); pause 1; b=$(field $F/cpu.stat usage_usec)
echo "# frozen: cpu.stat usage_usec $a -> $b in 1 s"
check "frozen loop gets no CPU" test "$a" = "$b"
echo 0 > $F/cgroup.freeze
pause 1; c=$(field $F/cpu.stat usage_usec)
echo "# thawed: cpu.stat usage_usec $b -> $c in 1 s"
check "thawed loop runs again" test "$c" -gt "$b"
echo 1 > $F/cgroup.kill; wait $loop 2>/dev/null

# ---- cpu.max: 50000/100000 gives half a CPU
C=$G/cpu; mkdir $C
echo "50000 100000" > $C/cpu.max
in_cg $C "$BB sh -c 'while :; do :; done'" 2>/dev/null &
loop=$!
pause 0.5
u0=$(field $C/cpu.stat usage_usec); t0=${EPOCHREALTIME/./}
pause 3
u1=$(field $C/cpu.stat usage_usec); t1=${EPOCHREALTIME/./}
echo 1 > $C/cgroup.kill; wait $loop 2>/dev/null
share=$(( (u1 - u0) * 100 / (t1 - t0) ))
echo "# cpu.max 50000 100000: busy loop got 0.$share CPU; cpu.stat: $(oneline $C/cpu.stat)"
check "cpu.max throttles to ~0.5 CPU (0.$share)" test $share -gt 30 -a $share -lt 60
check "cpu.stat nr_throttled > 0" test "$(field $C/cpu.stat nr_throttled)" -gt 0

rmdir $M $P $F $C $G
check "the test cgroups are removed" test ! -e $G

# ---- overlayfs: a lower dir on the 9p root, upper/work on tmpfs
O=/tmp/v2check-ovl
mkdir -p $O/upper $O/work $O/merged
if mount -t overlay overlay -o lowerdir=$here,upperdir=$O/upper,workdir=$O/work $O/merged 2>/dev/null; then
  echo written > $O/merged/v2check-new
  check "overlay (9p lower, tmpfs upper) is writable, lower files visible" \
    test -f $O/merged/check-v2.sh -a -f $O/upper/v2check-new -a ! -e $here/v2check-new
  umount $O/merged
else
  nok "overlay mount with a 9p lower and tmpfs upper"
fi
rm -rf $O

# ---- runc enforces memory.max here too
if command -v runc >/dev/null; then
  B=/tmp/v2check-bundle
  rm -rf $B; mkdir -p $B
  demo=
  for d in "$here/../../demo/busybox/rootfs" "$here/../../build/demo/busybox/rootfs"; do
    [ -x "$d/bin/busybox" ] && { demo=$d; break; }
  done
  if [ -n "$demo" ]; then
    cp -a "$demo" $B/rootfs
  else
    mkdir -p $B/rootfs/{bin,proc,sys,dev,tmp,etc,root}
    cp $BB $B/rootfs/bin/busybox
    for a in sh cat dd echo sleep; do ln -s busybox $B/rootfs/bin/$a; done
  fi
  (cd $B && runc spec)
  node -e '
    const fs = require("fs"), f = process.argv[1], c = JSON.parse(fs.readFileSync(f, "utf8"));
    c.process.terminal = false;
    c.process.args = ["sh", "-c", "echo container memory.max=$(cat /sys/fs/cgroup/memory.max) pids.max=$(cat /sys/fs/cgroup/pids.max); dd if=/dev/zero of=/dev/null bs=$SIZE count=1 2>/dev/null"];
    c.process.env.push("SIZE=64M");
    c.linux.resources = { ...c.linux.resources, memory: { limit: 33554432, swap: 33554432 }, pids: { limit: 10 } };
    fs.writeFileSync(f, JSON.stringify(c, null, 2));' $B/config.json
  out=$(runc run -b $B v2check-64m 2>&1); rc=$?
  echo "# runc run (dd bs=64M, memory.limit 32M): exit $rc: $out"
  check "runc container's 64M allocation is OOM-killed (exit 137)" test $rc = 137
  check "runc container sees memory.max=33554432 pids.max=10" \
    eval '[[ "$out" == *"memory.max=33554432 pids.max=10"* ]]'
  $BB sed -i 's/"SIZE=64M"/"SIZE=8M"/' $B/config.json
  out=$(runc run -b $B v2check-8m 2>&1); rc=$?
  echo "# runc run (dd bs=8M, memory.limit 32M): exit $rc"
  check "runc container's 8M allocation succeeds" test $rc = 0
  runc delete -f v2check-64m 2>/dev/null; runc delete -f v2check-8m 2>/dev/null
  rm -rf $B
else
  echo "# runc not installed: skipped the runc checks"
fi

if [ $failed = 0 ]; then echo "# all $n checks passed"; else echo "# some checks FAILED"; fi
exit $failed
