#!/usr/bin/env bash
# The systemd cgroup driver (--systemd-cgroup), for tcr and for runc as the
# control lane. Runs INSIDE the v2 guest booted with systemd as pid 1:
#   V2_GUEST_SYSTEMD=1 test/v2-guest/run.sh -- test/v2-guest/systemd.sh
# A plain script, like enforce.sh (node starts slowly under emulation).
# Prints "PASS lane: check" / "FAIL lane: check (why)", then a table of both
# lanes; exit status: the number of failures (both lanes count).
set -uo pipefail
cd "$(dirname "$0")/../.."
TCR="$PWD/bin/tcr"
WORK=$(mktemp -d /tmp/tcr-systemd.XXXXXX)
LANES=${SYSTEMD_LANES:-tcr runc}
failures=0
declare -A RESULT=()
CHECKS=()
check_name() { local n; for n in "${CHECKS[@]}"; do [ "$n" = "$1" ] && return; done; CHECKS+=("$1"); }
pass() { check_name "$2"; RESULT[$1/$2]=pass; echo "PASS $1: $2"; }
# skip LANE CHECK...: checks that could not run (what they needed has failed already)
skip() { local lane=$1 n; shift; for n in "$@"; do check_name "$n"; RESULT[$lane/$n]=skip; done; }
fail() { check_name "$2"; RESULT[$1/$2]=FAIL; failures=$((failures + 1)); echo "FAIL $1: $2 ($3)"; }
# ok LANE CHECK WHY COMMAND...: pass if the command succeeds
ok() { local lane=$1 name=$2 why=$3; shift 3; if "$@"; then pass "$lane" "$name"; else fail "$lane" "$name" "$why"; fi; }

[ -d /run/systemd/system ] || { echo "systemd is not running here (run.sh with V2_GUEST_SYSTEMD=1)"; exit 1; }
[ -f /sys/fs/cgroup/cgroup.controllers ] || { echo "not a cgroup v2 host"; exit 1; }
echo "systemd $(systemctl --version | head -1 | cut -d' ' -f2), runc $(runc --version | head -1 | cut -d' ' -f3)"

cleanup() {
  local lane
  [ -n "${CTRD:-}" ] && systemctl stop "$CTRD" > /dev/null 2>&1
  for lane in $LANES; do
    for id in $(ls "/run/sd-$lane" 2>/dev/null); do rt "$lane" delete --force "$id" >/dev/null 2>&1; done
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

# The runtimes, each with a state root of its own.
rt() {
  local lane=$1; shift
  case $lane in
    tcr) "$TCR" --root /run/sd-tcr --systemd-cgroup "$@" ;;
    runc) runc --root /run/sd-runc --systemd-cgroup "$@" ;;
  esac
}

exec_rt() {
  local lane=$1; shift
  case $lane in
    tcr) exec "$TCR" --root /run/sd-tcr --systemd-cgroup "$@" ;;
    runc) exec runc --root /run/sd-runc --systemd-cgroup "$@" ;;
  esac
}
rt_plain() {
  local lane=$1; shift
  case $lane in
    tcr) "$TCR" --root /run/sd-tcr "$@" ;;
    runc) runc --root /run/sd-runc "$@" ;;
  esac
}

# Bundles: one rootfs, a config per case (written by one node process: each start costs seconds here).
cp -a demo/busybox/rootfs "$WORK/rootfs"
node -e '
  const fs = require("fs"); const [src, work, ...lanes] = process.argv.slice(1);
  const base = JSON.parse(fs.readFileSync(src, "utf8"));
  const cases = {
    limits: (l) => ({ path: `system.slice:tcr-test:${l}-a`, resources: { memory: { limit: 67108864 }, cpu: { quota: 50000, period: 100000 }, pids: { limit: 64 } } }),
    nested: (l) => ({ path: `kubepods-besteffort.slice:cri-containerd:${l}-b` }),
    killed: (l) => ({ path: `system.slice:tcr-test:${l}-k` }),
    plainpath: () => ({ path: "/tcr-test/plain" }),
    badslice: (l) => ({ path: `bad--name.slice:tcr-test:${l}-x` }),
    notslice: (l) => ({ path: `system:tcr-test:${l}-y` }),
    noflag: (l) => ({ path: `system.slice:tcr-test:${l}-p` }),
    nobus: (l) => ({ path: `system.slice:tcr-test:${l}-d` }),
  };
  for (const lane of lanes) for (const [name, make] of Object.entries(cases)) {
    const c = JSON.parse(JSON.stringify(base)), k = make(lane);
    c.process.args = ["sleep", "1000"]; c.process.terminal = false;
    c.root = { path: `${work}/rootfs`, readonly: false };
    c.linux.cgroupsPath = k.path;
    c.linux.resources = { ...c.linux.resources, ...(k.resources ?? {}) };
    fs.mkdirSync(`${work}/${lane}-${name}`);
    fs.writeFileSync(`${work}/${lane}-${name}/config.json`, JSON.stringify(c));
  }
' demo/busybox/config.json "$WORK" $LANES

# prop UNIT NAME: one property of a unit, as systemctl shows it
prop() { systemctl show "$1" -p "$2" --value 2>/dev/null; }
# unit_gone UNIT: systemd no longer lists it (loaded or not)
unit_gone() { ! systemctl list-units --all --no-legend --plain "$1" 2>/dev/null | grep -q .; }
# wait_for SECONDS TEST-ARGS...: polls a test(1) until it holds (a deadline: an exec of sleep takes longer than it sleeps here)
wait_for() { local end=$((SECONDS + $1)); shift; while [ $SECONDS -lt $end ] && ! [ "$@" ]; do sleep 0.05; done; [ "$@" ]; }
cg_file() { local v; read -r v < "/sys/fs/cgroup$1/$2" 2>/dev/null; echo "$v"; }
cgroup_of() { local l; read -r l < "/proc/$1/cgroup"; echo "${l#0::}"; }
pid_of() { sed -n 's/^ *"pid": \([0-9]*\).*/\1/p'; }
init_cgroup() { cgroup_of "$(rt "$1" state "$2" | pid_of)"; }
init_cgroup_plain() { cgroup_of "$(rt_plain "$1" state "$2" | pid_of)"; }

# containerd for check 9 (skipped where it is not installed): a private one, as a transient service
CTRD= CTR=
if command -v containerd > /dev/null && command -v ctr > /dev/null; then
  mkdir -p "$WORK/ctrd"
  cat > "$WORK/ctrd/config.toml" <<TOML
version = 2
root = "/var/lib/tcr-sd-containerd"
state = "/run/tcr-sd-containerd"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.internal.v1.opt", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "/run/tcr-sd-containerd/containerd.sock"
[ttrpc]
  address = "/run/tcr-sd-containerd/containerd.sock.ttrpc"
TOML
  systemd-run --quiet --unit=tcr-test-containerd -p DefaultDependencies=no -p Delegate=yes -p KillMode=process "$(command -v containerd)" --config "$WORK/ctrd/config.toml"
  if wait_for 60 -S /run/tcr-sd-containerd/containerd.sock; then
    CTRD=tcr-test-containerd.service CTR="ctr --address /run/tcr-sd-containerd/containerd.sock --namespace tcr-test"
  else
    echo "containerd did not start: $(systemctl status tcr-test-containerd --no-pager 2>&1 | tail -5)"
  fi
fi

for lane in $LANES; do
  echo "--- $lane"
  # 1. a scope in system.slice with the spec's limits as unit properties and in the files
  unit=tcr-test-$lane-a.scope cg=/system.slice/$unit id=$lane-a
  if rt "$lane" run --detach --bundle "$WORK/$lane-limits" "$id" > "$WORK/out" 2>&1; then
    pass "$lane" "run --detach in system.slice:tcr-test:NAME"
    got=$(init_cgroup "$lane" "$id")
    ok "$lane" "init in /system.slice/tcr-test-NAME.scope" "it is in $got" [ "$got" = "$cg" ]
    ok "$lane" "unit active" "ActiveState=$(prop $unit ActiveState)" [ "$(prop $unit ActiveState)" = active ]
    ok "$lane" "Delegate=yes" "Delegate=$(prop $unit Delegate)" [ "$(prop $unit Delegate)" = yes ]
    ok "$lane" "MemoryMax property" "MemoryMax=$(prop $unit MemoryMax)" [ "$(prop $unit MemoryMax)" = 67108864 ]
    ok "$lane" "CPUQuota property (50%)" "CPUQuotaPerSecUSec=$(prop $unit CPUQuotaPerSecUSec)" [ "$(prop $unit CPUQuotaPerSecUSec)" = 500ms ]
    ok "$lane" "TasksMax property" "TasksMax=$(prop $unit TasksMax)" [ "$(prop $unit TasksMax)" = 64 ]
    ok "$lane" "memory.max file" "memory.max=$(cg_file $cg memory.max)" [ "$(cg_file $cg memory.max)" = 67108864 ]
    ok "$lane" "cpu.max file" "cpu.max=$(cg_file $cg cpu.max)" [ "$(cg_file $cg cpu.max)" = "50000 100000" ]
    ok "$lane" "pids.max file" "pids.max=$(cg_file $cg pids.max)" [ "$(cg_file $cg pids.max)" = 64 ]
    # 2. pause/resume through cgroup.freeze
    rt "$lane" pause "$id"
    ok "$lane" "pause: cgroup.freeze=1, state paused" "freeze=$(cg_file $cg cgroup.freeze)" \
      eval '[ "$(cg_file $cg cgroup.freeze)" = 1 ] && rt $lane state $id | grep -q "\"status\": \"paused\""'
    rt "$lane" resume "$id"
    ok "$lane" "resume: cgroup.freeze=0, state running" "freeze=$(cg_file $cg cgroup.freeze)" \
      eval '[ "$(cg_file $cg cgroup.freeze)" = 0 ] && rt $lane state $id | grep -q "\"status\": \"running\""'
    # 3. update --memory: the unit property and the file
    rt "$lane" update --memory 134217728 "$id"
    ok "$lane" "update --memory: MemoryMax and memory.max" "MemoryMax=$(prop $unit MemoryMax) memory.max=$(cg_file $cg memory.max)" \
      eval '[ "$(prop $unit MemoryMax)" = 134217728 ] && [ "$(cg_file $cg memory.max)" = 134217728 ]'
    # 4. delete removes the unit and its cgroup
    rt "$lane" delete --force "$id"
    ok "$lane" "delete: unit gone, no directory" "unit: $(prop $unit ActiveState), dir: $(ls -d /sys/fs/cgroup$cg 2>&1)" \
      eval 'unit_gone $unit && [ ! -e /sys/fs/cgroup$cg ]'
  else
    fail "$lane" "run --detach in system.slice:tcr-test:NAME" "$(tail -3 "$WORK/out")"
    skip "$lane" "init in /system.slice/tcr-test-NAME.scope" "unit active" "Delegate=yes" "MemoryMax property" "CPUQuota property (50%)" \
      "TasksMax property" "memory.max file" "cpu.max file" "pids.max file" "pause: cgroup.freeze=1, state paused" \
      "resume: cgroup.freeze=0, state running" "update --memory: MemoryMax and memory.max" "delete: unit gone, no directory"
  fi

  # 5. a nested slice that does not exist yet: systemd makes kubepods.slice and kubepods-besteffort.slice
  unit=cri-containerd-$lane-b.scope cg=/kubepods.slice/kubepods-besteffort.slice/$unit id=$lane-b
  if rt "$lane" run --detach --bundle "$WORK/$lane-nested" "$id" > "$WORK/out" 2>&1; then
    got=$(init_cgroup "$lane" "$id")
    ok "$lane" "nested slice: init in its scope, unit active" "in $got, $(prop $unit ActiveState), slice $(prop $unit Slice)" \
      eval '[ "$got" = "$cg" ] && [ "$(prop $unit ActiveState)" = active ] && [ "$(prop $unit Slice)" = kubepods-besteffort.slice ]'
    rt "$lane" delete --force "$id"
    ok "$lane" "nested slice: delete removes unit and directory" "$(ls -d /sys/fs/cgroup$cg 2>&1)" eval 'unit_gone $unit && [ ! -e /sys/fs/cgroup$cg ]'
  else
    fail "$lane" "nested slice: init in its scope, unit active" "$(tail -3 "$WORK/out")"
    skip "$lane" "nested slice: delete removes unit and directory"
  fi

  # 6. create killed -9 at moments spread over it: early (0.3 s), once its state is recorded, once
  # its scope exists (systemd made the directory: the files are being written); delete --force undoes it
  unit=tcr-test-$lane-k.scope cg=/system.slice/$unit id=$lane-k
  left=
  for moment in early recorded scope; do
    # exec: $! is then the runtime itself, not a subshell around it
    ( exec_rt "$lane" create --bundle "$WORK/$lane-killed" "$id" > /dev/null 2>&1 ) &
    pid=$!
    case $moment in
      early) sleep 0.3 ;;
      recorded) wait_for 20 -e "/run/sd-$lane/$id" || left+=" [$moment: never seen]" ;;
      scope) wait_for 20 -d "/sys/fs/cgroup$cg" || left+=" [$moment: never seen]" ;;
    esac
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    rt "$lane" delete --force "$id" > "$WORK/out" 2>&1
    unit_gone "$unit" || left+=" [$moment: unit $(prop $unit ActiveState)]"
    [ -e "/sys/fs/cgroup$cg" ] && left+=" [$moment: $cg]"
    [ -e "/run/sd-$lane/$id" ] && left+=" [$moment: state $(cat "$WORK/out")]"
  done
  ok "$lane" "create killed -9 (early, recorded, scope made): delete --force leaves nothing" "left:$left" [ -z "$left" ]

  # 7. bad paths: a clear error, nothing made
  for c in plainpath badslice notslice; do
    if rt "$lane" create --bundle "$WORK/$lane-$c" "$lane-$c" > "$WORK/out" 2>&1; then
      fail "$lane" "error: $c (nothing left)" "create succeeded"
    else
      msg=$(tail -1 "$WORK/out")
      leftover=$( { ls "/run/sd-$lane" 2>/dev/null | grep -x "$lane-$c"; ls -d /sys/fs/cgroup/tcr-test* /sys/fs/cgroup/system.slice/tcr-test-$lane-[xy].scope 2>/dev/null; systemctl list-units --all --no-legend --plain "tcr-test-$lane-*" 2>/dev/null; } | tr '\n' ' ')
      echo "  $lane $c: $msg"
      ok "$lane" "error: $c (nothing left)" "left: $leftover" [ -z "$leftover" ]
    fi
  done

  # 8. without --systemd-cgroup (systemd runs): "slice:prefix:name" is a plain relative path, as runc
  # takes it: a directory of that name beside the runtime's own cgroup (its parent's child)
  own=$(sed -n 's/^0:://p' /proc/self/cgroup)
  cg=${own%/*}/system.slice:tcr-test:$lane-p id=$lane-p
  if rt_plain "$lane" run --detach --bundle "$WORK/$lane-noflag" "$id" > "$WORK/out" 2>&1; then
    got=$(init_cgroup_plain "$lane" "$id")
    ok "$lane" "no --systemd-cgroup: a plain path beside its own cgroup" "it is in $got, not $cg" [ "$got" = "$cg" ]
    rt_plain "$lane" delete --force "$id"
  else
    fail "$lane" "no --systemd-cgroup: a plain path beside its own cgroup" "$(tail -3 "$WORK/out")"
  fi

  # 9. containerd with SystemdCgroup (ctr --runc-systemd-cgroup): its runc shim drives the runtime
  # with --systemd-cgroup; containerd itself runs as a systemd service with Delegate=yes, as packaged
  if [ -n "$CTRD" ]; then
    id=$lane-c unit=tcr-ctr-$lane-c.scope cg=/system.slice/tcr-ctr-$lane-c.scope
    bin=$TCR; [ "$lane" = runc ] && bin=$(command -v runc)
    if $CTR run -d --null-io --runc-binary "$bin" --runc-systemd-cgroup --cgroup "system.slice:tcr-ctr:$id" \
        --env PATH=/bin:/usr/bin --rootfs "$WORK/rootfs" "$id" /bin/sleep 1000 > "$WORK/out" 2>&1; then
      pid=$($CTR task ls | awk -v id="$id" '$1 == id { print $2 }')
      got=$(cgroup_of "$pid")
      ok "$lane" "containerd (SystemdCgroup): task in its scope, unit active" "pid $pid in $got, $(prop $unit ActiveState)" \
        eval '[ "$got" = "$cg" ] && [ "$(prop $unit ActiveState)" = active ]'
      $CTR task kill -s KILL "$id" > /dev/null 2>&1
      wait_for 20 ! -e "/proc/$pid"
      $CTR task delete "$id" > /dev/null 2>&1; $CTR container delete "$id" > /dev/null 2>&1
      ok "$lane" "containerd (SystemdCgroup): task delete removes the unit" "unit $(prop $unit ActiveState), $(ls -d /sys/fs/cgroup$cg 2>&1)" \
        eval 'unit_gone $unit && [ ! -e /sys/fs/cgroup$cg ]'
    else
      fail "$lane" "containerd (SystemdCgroup): task in its scope, unit active" "$(tail -3 "$WORK/out")"
      skip "$lane" "containerd (SystemdCgroup): task delete removes the unit"
    fi
  fi
done

# 11 (before 10 stops the system bus). an ordinary user's scopes, from their own systemd --user
SYSTEMD_LANES="$LANES" bash test/v2-guest/systemd-user.sh
user_failures=$?
failures=$((failures + user_failures))

# 10. without the system bus (dbus stopped): both fall back to systemd's private socket
systemctl stop dbus.socket dbus.service
for lane in $LANES; do
  unit=tcr-test-$lane-d.scope id=$lane-d
  if rt "$lane" run --detach --bundle "$WORK/$lane-nobus" "$id" > "$WORK/out" 2>&1; then
    ok "$lane" "no system bus (systemd's private socket): unit active" "$(prop $unit ActiveState)" [ "$(prop $unit ActiveState)" = active ]
    rt "$lane" delete --force "$id"
    ok "$lane" "no system bus: delete removes the unit" "$(prop $unit ActiveState)" unit_gone "$unit"
  else
    fail "$lane" "no system bus (systemd's private socket): unit active" "$(tail -3 "$WORK/out")"
    skip "$lane" "no system bus: delete removes the unit"
  fi
done

# The two lanes side by side.
echo
printf '%-76s' check; for lane in $LANES; do printf ' %-5s' "$lane"; done; echo
for n in "${CHECKS[@]}"; do
  printf '%-76s' "$n"; for lane in $LANES; do printf ' %-5s' "${RESULT[$lane/$n]:--}"; done; echo
done
echo "$failures failed ($user_failures of them in systemd-user.sh, above)"
exit "$failures"
