#!/usr/bin/env bash
# tcr's cgroup v2 enforcement checks. Runs INSIDE the pure-v2 guest
# (test/v2-guest/run.sh -- test/v2-guest/enforce.sh): a plain script, since
# node starts slowly under emulation and vitest far more so. Each check
# proves a limit is enforced, not just written. Exit status: failures count.
set -uo pipefail
cd "$(dirname "$0")/../.."
TCR="$PWD/bin/tcr"
ROOT=/run/tcr-v2-test
WORK=$(mktemp -d /tmp/tcr-v2.XXXXXX)
failures=0
passes=0
pass() { echo "PASS $*"; passes=$((passes + 1)); }
fail() { echo "FAIL $*"; failures=$((failures + 1)); }
cleanup() {
  for id in $(ls "$ROOT" 2>/dev/null); do "$TCR" --root "$ROOT" delete --force "$id" >/dev/null 2>&1; done
  rm -rf "$WORK"
}
trap cleanup EXIT

[ -f /sys/fs/cgroup/cgroup.controllers ] || { echo "not a cgroup v2 host"; exit 1; }
echo "controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"

# bundle NAME JSON-EDIT ARGS...: a copy of the demo bundle with args and an edit (JS on `c`)
bundle() {
  local name=$1 edit=$2; shift 2
  mkdir -p "$WORK/$name"
  cp -a demo/busybox/rootfs "$WORK/$name/rootfs"
  node -e '
    const fs = require("fs"); const [src, dst, edit, ...args] = process.argv.slice(1);
    const c = JSON.parse(fs.readFileSync(src, "utf8"));
    c.process.args = args; c.root.readonly = false;
    eval(edit);
    fs.writeFileSync(dst, JSON.stringify(c));
  ' demo/busybox/config.json "$WORK/$name/config.json" "$edit" "$@"
  echo "$WORK/$name"
}
tcr() { "$TCR" --root "$ROOT" "$@"; }

# 1. the container lives in its own cgroup, created with the controllers it needs
b=$(bundle place 'c.linux.resources = { pids: { limit: 50 } }' cat /proc/self/cgroup /sys/fs/cgroup/pids.max)
out=$(tcr run --bundle "$b" place 2>&1)
if grep -q '^0::/tcr/place$' <<<"$out" && grep -q '^50$' <<<"$out"; then pass "cgroup placement and pids.max visible inside"; else fail "placement: $out"; fi
[ ! -d /sys/fs/cgroup/tcr/place ] && pass "cgroup removed after run" || fail "cgroup left: /sys/fs/cgroup/tcr/place"

# 2. memory.max: a process above it is OOM-killed; events reports it
b=$(bundle oom 'c.linux.resources = { memory: { limit: 33554432, swap: 33554432 } }' sh -c 'head -c 300000000 /dev/zero | tail >/dev/null; echo rc=$?')
tcr create --bundle "$b" oom </dev/null >"$WORK/oom.out" 2>&1
[ "$(cat /sys/fs/cgroup/tcr/oom/memory.max)" = 33554432 ] && pass "memory.max written" || fail "memory.max is $(cat /sys/fs/cgroup/tcr/oom/memory.max)"
tcr events --interval 60s oom >"$WORK/events" 2>&1 &
events=$!
# node starts slowly under emulation: start the container only once events prints its first stats
for _ in $(seq 1 600); do [ -s "$WORK/events" ] && break; sleep 0.1; done
tcr start oom
wait $events
if grep -q 'rc=137' "$WORK/oom.out"; then pass "process above memory.max OOM-killed (137)"; else fail "OOM: $(cat "$WORK/oom.out")"; fi
grep -q '"type":"oom"' "$WORK/events" && pass "events reported the OOM" || fail "events: $(cat "$WORK/events")"
tcr delete oom

# 3. pids.max stops a fork bomb
b=$(bundle bomb 'c.linux.resources = { pids: { limit: 12 } }' sh -c 'sh -c "while :; do sleep 5 & done" 2>/dev/null; n=0; for p in /proc/[0-9]*; do read c < $p/comm; [ "$c" = sleep ] && n=$((n+1)); done; echo $n')
n=$(tcr run --keep --bundle "$b" bomb 2>/dev/null)
max=$(awk '/^max/ {print $2}' /sys/fs/cgroup/tcr/bomb/pids.events)
if [ "$n" -ge 6 ] && [ "$n" -le 10 ] && [ "$max" -gt 0 ]; then pass "fork bomb stopped at pids.max ($n sleeps, $max refusals)"; else fail "fork bomb: $n sleeps, pids.events max $max"; fi
tcr delete --force bomb

# 4. cpu.max 50000/100000 gives about half a CPU
b=$(bundle cpu 'c.linux.resources = { cpu: { quota: 50000, period: 100000 } }' sh -c 'while :; do :; done')
tcr run --detach --bundle "$b" cpu </dev/null >/dev/null 2>&1
[ "$(cat /sys/fs/cgroup/tcr/cpu/cpu.max)" = "50000 100000" ] && pass "cpu.max written" || fail "cpu.max is $(cat /sys/fs/cgroup/tcr/cpu/cpu.max)"
sleep 1
u0=$(awk '/^usage_usec/ {print $2}' /sys/fs/cgroup/tcr/cpu/cpu.stat); t0=$(date +%s%N)
sleep 4
u1=$(awk '/^usage_usec/ {print $2}' /sys/fs/cgroup/tcr/cpu/cpu.stat); t1=$(date +%s%N)
share=$(awk -v u=$((u1 - u0)) -v t=$(((t1 - t0) / 1000)) 'BEGIN { printf "%.2f", u / t }')
if awk -v s="$share" 'BEGIN { exit !(s > 0.3 && s < 0.65) }'; then pass "busy loop got $share CPU under a 0.5 quota"; else fail "busy loop got $share CPU"; fi

# 5. freeze: pause stops the loop, resume continues, state says paused; kill --all uses cgroup.kill
tcr pause cpu
st=$(tcr state cpu | grep -o '"status": "[a-z]*"')
u0=$(awk '/^usage_usec/ {print $2}' /sys/fs/cgroup/tcr/cpu/cpu.stat); sleep 1
u1=$(awk '/^usage_usec/ {print $2}' /sys/fs/cgroup/tcr/cpu/cpu.stat)
if [ "$st" = '"status": "paused"' ] && [ $((u1 - u0)) -lt 20000 ]; then pass "paused: no CPU used ($((u1 - u0)) us)"; else fail "pause: $st, $((u1 - u0)) us"; fi
tcr resume cpu
u0=$(awk '/^usage_usec/ {print $2}' /sys/fs/cgroup/tcr/cpu/cpu.stat); sleep 1
u1=$(awk '/^usage_usec/ {print $2}' /sys/fs/cgroup/tcr/cpu/cpu.stat)
[ $((u1 - u0)) -gt 100000 ] && pass "resumed: the loop runs again" || fail "resume: $((u1 - u0)) us"
tcr update --cpu-quota 20000 cpu && [ "$(cat /sys/fs/cgroup/tcr/cpu/cpu.max)" = "20000 100000" ] && pass "update --cpu-quota" || fail "update: $(cat /sys/fs/cgroup/tcr/cpu/cpu.max)"
tcr kill --all cpu KILL; sleep 0.5
[ "$(tcr state cpu | grep -o '"status": "[a-z]*"')" = '"status": "stopped"' ] && pass "kill --all KILL (cgroup.kill)" || fail "kill --all"
tcr delete cpu
[ ! -d /sys/fs/cgroup/tcr/cpu ] && pass "cgroup removed on delete" || fail "cgroup left after delete"

# 6. devices: an eBPF program denies a node without a rule and allows it with one
kmsg='c.linux.devices = [{ type: "c", path: "/dev/kmsg", major: 1, minor: 11, fileMode: 384 }]'
b=$(bundle devdeny "$kmsg; c.linux.resources = { devices: [{ allow: false, access: \"rwm\" }] }" sh -c 'echo tcr-v2-device-test > /dev/kmsg && echo written')
out=$(tcr run --bundle "$b" devdeny 2>&1)
grep -q 'Operation not permitted' <<<"$out" && ! grep -q written <<<"$out" && pass "device without a rule denied (BPF)" || fail "device deny: $out"
b=$(bundle devallow "$kmsg; c.linux.resources = { devices: [{ allow: false, access: \"rwm\" }, { allow: true, type: \"c\", major: 1, minor: 11, access: \"w\" }] }" sh -c 'echo tcr-v2-device-test > /dev/kmsg && echo written')
out=$(tcr run --bundle "$b" devallow 2>&1)
grep -q written <<<"$out" && pass "device with an allow rule opens" || fail "device allow: $out"
b=$(bundle devnull 'c.linux.resources = { devices: [{ allow: false, access: "rwm" }] }' sh -c 'echo x > /dev/null && head -c 1 /dev/zero | wc -c')
[ "$(tcr run --bundle "$b" devnull 2>&1)" = 1 ] && pass "default devices (null, zero) stay usable" || fail "default devices"

# 7. a value the kernel refuses names the file, and nothing is left
b=$(bundle badcpus 'c.linux.resources = { cpu: { cpus: "64-65" } }' true)
out=$(tcr create --bundle "$b" badcpus 2>&1)
grep -q 'cpuset.cpus' <<<"$out" && [ ! -d /sys/fs/cgroup/tcr/badcpus ] && [ ! -d "$ROOT/badcpus" ] && pass "bad cpuset named, nothing left" || fail "bad cpuset: $out"

echo "cgroup-v2: $passes passed, $failures failed"
# 8. an ordinary user's containers in a subtree delegated to them (its own count, added to the status)
bash test/v2-guest/rootless.sh
failures=$((failures + $?))
exit $failures
