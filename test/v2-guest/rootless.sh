#!/usr/bin/env bash
# tcr run by an ordinary user in a cgroup v2 subtree delegated to them
# without systemd, as the kernel's cgroup-v2.rst describes delegation: root
# makes /sys/fs/cgroup/tcr-deleg, chowns it with its cgroup.procs,
# cgroup.subtree_control and cgroup.threads to the user, and puts the user's
# shell in a leaf of it (shell/); the root's subtree_control enables every
# controller already (guest-init.sh). Runs INSIDE the pure-v2 guest, called
# by enforce.sh. Exit status: the number of failures.
set -uo pipefail
cd "$(dirname "$0")/../.."
. test/v2-guest/guest-user.sh
TCR="$PWD/bin/tcr"
NAME=tcr-deleg UID_=2301
D=/sys/fs/cgroup/tcr-deleg
WORK=$(mktemp -d /tmp/tcr-rootless.XXXXXX)
failures=0 passes=0
pass() { echo "PASS rootless: $*"; passes=$((passes + 1)); }
fail() { echo "FAIL rootless: $*"; failures=$((failures + 1)); }
cg() { local v; read -r v < "$D/$1" 2>/dev/null; echo "$v"; }
ROOT=$WORK/state
u_tcr() { as_user "$UID_" "$TCR" --root "$ROOT" "$@"; }
cleanup() {
  local id d
  for id in $(ls "$ROOT" 2>/dev/null); do u_tcr delete --force "$id" > /dev/null 2>&1; done
  echo $$ > /sys/fs/cgroup/cgroup.procs
  for d in $(find "$D" -mindepth 1 -depth -type d 2>/dev/null) "$D"; do rmdir "$d" 2>/dev/null; done
  rm -rf "$WORK"
}
trap cleanup EXIT

guest_user "$NAME" "$UID_" || { echo "FAIL rootless: cannot make user $NAME"; exit 1; }
mkdir -p "$D/shell"
chown "$UID_:$UID_" "$D" "$D"/cgroup.{procs,subtree_control,threads} "$D/shell" "$D"/shell/cgroup.{procs,subtree_control,threads}
echo $$ > "$D/shell/cgroup.procs"   # this shell, so every as_user below starts in the delegated leaf
mkdir -p "$WORK/base" && chown "$UID_:$UID_" "$WORK" "$WORK/base"

# Bundles: tcr spec --rootless (the user's own uid mapped) with one edit each, written by one node process.
(cd "$WORK/base" && as_user "$UID_" "$TCR" spec --rootless) || fail "tcr spec --rootless"
node -e '
  const fs = require("fs"); const [work, uid] = process.argv.slice(1);
  const base = JSON.parse(fs.readFileSync(`${work}/base/config.json`, "utf8"));
  const bomb = "sh -c \"while :; do sleep 5 & done\" 2>/dev/null; n=0; for p in /proc/[0-9]*; do read c < $p/comm; [ \"$c\" = sleep ] && n=$((n+1)); done; echo $n";
  const view = "cat /proc/self/cgroup /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max /sys/fs/cgroup/cpu.max > /view; exec sleep 1000";
  const limits = { memory: { limit: 67108864 }, pids: { limit: 64 }, cpu: { quota: 50000, period: 100000 } };
  const cases = {
    lim: { path: "rl-lim", res: limits, args: ["sh", "-c", view] },
    bomb: { path: "/tcr-deleg/rl-bomb", res: { pids: { limit: 12 } }, args: ["sh", "-c", bomb] },
    oom: { path: "/tcr-deleg/rl-oom", res: { memory: { limit: 33554432, swap: 33554432 } }, args: ["sh", "-c", "head -c 300000000 /dev/zero | tail >/dev/null; echo rc=$?"] },
    outside: { path: "/rl-outside", res: { memory: { limit: 33554432 } }, args: ["true"] },
    nolimit: { path: "/rl-outside", args: ["sh", "-c", "cat /proc/self/cgroup"] },
    dflt: { res: { pids: { limit: 30 } }, args: ["sh", "-c", "cat /proc/self/cgroup /sys/fs/cgroup/pids.max"] },
    sub: { path: "rl-sub", res: { pids: { limit: 40 } }, args: ["sh", "-c", "cat /proc/self/uid_map /proc/self/cgroup /sys/fs/cgroup/pids.max"],
      maps: [{ containerID: 0, hostID: Number(uid), size: 1 }, { containerID: 1, hostID: uid * 100000, size: 65536 }] },
    cgns: { path: "rl-cgns", res: { pids: { limit: 50 } }, ns: "cgroup", args: ["sh", "-c", "cat /proc/self/cgroup /sys/fs/cgroup/pids.max"] },
  };
  for (const [name, k] of Object.entries(cases)) {
    const c = JSON.parse(JSON.stringify(base));
    c.process.args = k.args; c.process.terminal = false;
    c.root = { path: `${work}/${name}/rootfs`, readonly: false };
    if (k.path) c.linux.cgroupsPath = k.path;
    if (k.res) c.linux.resources = k.res;
    if (k.maps) { c.linux.uidMappings = k.maps; c.linux.gidMappings = k.maps; }
    if (k.ns) c.linux.namespaces.push({ type: k.ns });
    fs.mkdirSync(`${work}/${name}`);
    fs.writeFileSync(`${work}/${name}/config.json`, JSON.stringify(c));
  }
' "$WORK" "$UID_"
for b in "$WORK"/*/config.json; do
  b=${b%/config.json}; [ "$b" = "$WORK/base" ] && continue
  cp -a demo/busybox/rootfs "$b/rootfs" && chown -R "$UID_:$UID_" "$b"
done
chown -R "$((UID_ * 100000)):$((UID_ * 100000))" "$WORK/sub/rootfs"; chown "$UID_:$UID_" "$WORK/sub/rootfs"

# 1. a relative cgroupsPath: beside the user's shell, limits in the files, seen inside too
if u_tcr run --detach --bundle "$WORK/lim" rl-lim < /dev/null > "$WORK/out" 2>&1; then
  pid=$(u_tcr state rl-lim | sed -n 's/^ *"pid": \([0-9]*\).*/\1/p')
  read -r l < "/proc/$pid/cgroup"
  [ "$l" = "0::/tcr-deleg/rl-lim" ] && pass "relative path: init in /tcr-deleg/rl-lim" || fail "relative path: init in $l"
  got="$(cg rl-lim/memory.max) $(cg rl-lim/pids.max) $(cg rl-lim/cpu.max)"
  [ "$got" = "67108864 64 50000 100000" ] && pass "host side: memory.max, pids.max, cpu.max hold the limits" || fail "host side files: $got"
  for _ in $(seq 1 100); do [ -s "$WORK/lim/rootfs/view" ] && break; sleep 0.1; done
  view=$(tr '\n' ' ' < "$WORK/lim/rootfs/view" 2>/dev/null)
  [ "$view" = "0::/tcr-deleg/rl-lim 67108864 64 50000 100000 " ] && pass "inside: /proc/self/cgroup and /sys/fs/cgroup show its own cgroup's limits" || fail "inside: $view"
  u_tcr pause rl-lim && [ "$(cg rl-lim/cgroup.freeze)" = 1 ] && u_tcr resume rl-lim && [ "$(cg rl-lim/cgroup.freeze)" = 0 ] &&
    pass "pause/resume through cgroup.freeze" || fail "pause/resume: cgroup.freeze $(cg rl-lim/cgroup.freeze)"
  u_tcr delete --force rl-lim
  [ ! -e "$D/rl-lim" ] && pass "tcr delete removes the cgroup" || fail "cgroup left: $D/rl-lim"
else
  fail "run --detach with a relative path: $(tail -3 "$WORK/out")"
fi

# 2. pids.max stops a fork bomb (an absolute path inside the delegation)
n=$(u_tcr run --keep --bundle "$WORK/bomb" rl-bomb 2>"$WORK/err" < /dev/null)
max=$(awk '/^max/ {print $2}' "$D/rl-bomb/pids.events" 2>/dev/null)
if [ "${n:-0}" -ge 6 ] && [ "${n:-0}" -le 10 ] && [ "${max:-0}" -gt 0 ]; then pass "fork bomb stopped at pids.max ($n sleeps, $max refusals)"; else fail "fork bomb: ${n:-none} sleeps, pids.events max ${max:-none} $(tail -2 "$WORK/err")"; fi
u_tcr delete --force rl-bomb
[ ! -e "$D/rl-bomb" ] || fail "cgroup left: $D/rl-bomb"

# 3. memory.max: above it, OOM-killed
out=$(u_tcr run --bundle "$WORK/oom" rl-oom 2>&1 < /dev/null)
grep -q 'rc=137' <<<"$out" && pass "memory above memory.max OOM-killed (137)" || fail "OOM: $out"
[ ! -e "$D/rl-oom" ] || fail "cgroup left: $D/rl-oom"

# 4. a limit outside the delegation: refused naming the field, nothing left
out=$(u_tcr create --bundle "$WORK/outside" rl-outside 2>&1 < /dev/null); rc=$?
if [ $rc -ne 0 ] && grep -q 'linux.resources.memory: a limit needs a cgroup' <<<"$out" && grep -q '/sys/fs/cgroup is not writable by uid' <<<"$out" &&
  [ ! -e "$ROOT/rl-outside" ] && [ ! -e /sys/fs/cgroup/rl-outside ]; then pass "limit outside the delegation refused, naming linux.resources.memory"; else fail "outside: rc $rc, $out"; fi

# 5. no limits outside the delegation: runs in the runtime's cgroup, with a warning
out=$(u_tcr run --bundle "$WORK/nolimit" rl-nolimit 2>&1 < /dev/null); rc=$?
if [ $rc -eq 0 ] && grep -q 'warn.*rootless: no cgroup' <<<"$out" && grep -q '^0::/tcr-deleg/shell$' <<<"$out"; then pass "no limits outside the delegation: runs, with a warning"; else fail "no limits: rc $rc, $out"; fi

# 6. no cgroupsPath: as runc, the id beside the user's own cgroup (in the delegation)
out=$(u_tcr run --bundle "$WORK/dflt" rl-dflt 2>&1 < /dev/null)
[ "$(tr '\n' ' ' <<<"$out")" = "0::/tcr-deleg/rl-dflt 30 " ] && pass "no cgroupsPath: /tcr-deleg/ID, limits applied" || fail "no cgroupsPath: $out"

# 7. /etc/subuid ranges through newuidmap, in a delegated cgroup
out=$(u_tcr run --bundle "$WORK/sub" rl-sub 2>&1 < /dev/null)
if grep -qE "^ +1 +$((UID_ * 100000)) +65536$" <<<"$out" && grep -q '^0::/tcr-deleg/rl-sub$' <<<"$out" && grep -q '^40$' <<<"$out"; then
  pass "subuid ranges (newuidmap) and a delegated cgroup"; else fail "subuid: $out"; fi

# 8. a cgroup namespace (runc's spec --rootless has one): cgroup2 mounted over the host's that /sys brought
out=$(u_tcr run --bundle "$WORK/cgns" rl-cgns 2>&1 < /dev/null)
[ "$(tr '\n' ' ' <<<"$out")" = "0::/ 50 " ] && pass "a cgroup namespace: its own cgroup2 at /sys/fs/cgroup" || fail "cgroup namespace: $out"

echo "rootless cgroup v2: $passes passed, $failures failed"
exit $failures
