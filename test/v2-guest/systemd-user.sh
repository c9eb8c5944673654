#!/usr/bin/env bash
# --systemd-cgroup for an ordinary user, for tcr and for runc as the control
# lane: the runtime asks the user's own manager (systemd --user, run as
# user@UID.service) on the user's bus ($XDG_RUNTIME_DIR/bus, dbus-user-session)
# for a transient scope, which lies under
# /user.slice/user-UID.slice/user@UID.service/. Runs INSIDE the v2 guest booted
# with systemd (V2_GUEST_SYSTEMD=1), called by systemd.sh while the system bus
# runs. Exit status: the number of failures.
set -uo pipefail
cd "$(dirname "$0")/../.."
. test/v2-guest/guest-user.sh
TCR="$PWD/bin/tcr"
NAME=tcr-sduser UID_=2302
MGR=/user.slice/user-$UID_.slice/user@$UID_.service
WORK=$(mktemp -d /tmp/tcr-sduser.XXXXXX)
LANES=${SYSTEMD_LANES:-tcr runc}
failures=0
pass() { echo "PASS $1: $2"; }
fail() { echo "FAIL $1: $2 ($3)"; failures=$((failures + 1)); }
ok() { local lane=$1 name=$2 why=$3; shift 3; if "$@"; then pass "$lane" "$name"; else fail "$lane" "$name" "$why"; fi; }
USER_ENV=(XDG_RUNTIME_DIR=/run/user/$UID_)
rt() {
  local lane=$1; shift
  case $lane in
    tcr) as_user "$UID_" "$TCR" --root "$WORK/state-tcr" --systemd-cgroup "$@" ;;
    runc) as_user "$UID_" runc --root "$WORK/state-runc" --systemd-cgroup "$@" ;;
  esac
}
uprop() { as_user "$UID_" systemctl --user show "$1" -p "$2" --value 2>/dev/null; }
ugone() { ! as_user "$UID_" systemctl --user list-units --all --no-legend --plain "$1" 2>/dev/null | grep -q .; }
cg_file() { local v; read -r v < "/sys/fs/cgroup$1/$2" 2>/dev/null; echo "$v"; }
cgroup_of() { local l; read -r l < "/proc/$1/cgroup"; echo "${l#0::}"; }
init_cgroup() { cgroup_of "$(rt "$1" state "$2" | sed -n 's/^ *"pid": \([0-9]*\).*/\1/p')"; }
cleanup() {
  local lane id
  for lane in $LANES; do for id in $(ls "$WORK/state-$lane" 2>/dev/null); do rt "$lane" delete --force "$id" > /dev/null 2>&1; done; done
  systemctl stop "user@$UID_.service" > /dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT

guest_user "$NAME" "$UID_" || { echo "FAIL user: cannot make $NAME"; exit 1; }
chown "$UID_:$UID_" "$WORK"
# The guest's systemd reads its units from one directory (guest-init.sh): the user manager's are added to it.
U=/run/v2-guest-units
for f in user@.service user-runtime-dir@.service user.slice user-.slice user-.slice.d user@.service.d; do
  [ -e "/lib/systemd/system/$f" ] && cp -r "/lib/systemd/system/$f" "$U/"
done
# without sysinit.target and the rest of a boot, as the guest's other units (guest-init.sh)
for f in user@.service user-runtime-dir@.service user.slice user-.slice; do
  mkdir -p "$U/$f.d" && printf '[Unit]\nDefaultDependencies=no\n' > "$U/$f.d/v2-guest.conf"
done
# no journald here: the manager's log goes to a file, shown if it fails; no logind (pam_systemd) gives
# it its XDG_RUNTIME_DIR: user-runtime-dir@UID.service makes the directory, the drop-in names it
printf '[Service]\nEnvironment=SYSTEMD_LOG_TARGET=console XDG_RUNTIME_DIR=/run/user/%%i\nStandardOutput=file:/run/v2-guest-user-manager.log\nStandardError=inherit\n' > "$U/user@.service.d/v2-guest-log.conf"
systemctl daemon-reload
if ! timeout 120 systemctl start "user@$UID_.service"; then
  echo "FAIL user: systemctl start user@$UID_.service: $(systemctl status "user@$UID_.service" --no-pager 2>&1 | tail -5)"
  tail -20 /run/v2-guest-user-manager.log
  exit 1
fi
[ -S "/run/user/$UID_/bus" ] || { echo "FAIL user: no /run/user/$UID_/bus (dbus-user-session)"; exit 1; }
echo "user manager: $(systemctl show "user@$UID_.service" -p ActiveState --value), its cgroup $(systemctl show "user@$UID_.service" -p ControlGroup --value)"

cp -a demo/busybox/rootfs "$WORK/rootfs" && chown -R "$UID_:$UID_" "$WORK/rootfs"
(cd "$WORK" && as_user "$UID_" "$TCR" spec --rootless) || fail all "tcr spec --rootless" "no config"
node -e '
  const fs = require("fs"); const [work, ...lanes] = process.argv.slice(1);
  const base = JSON.parse(fs.readFileSync(`${work}/config.json`, "utf8"));
  const cases = {
    limits: (l) => ({ path: `user.slice:tcr-test:${l}-u`, resources: { memory: { limit: 67108864 }, cpu: { quota: 50000, period: 100000 }, pids: { limit: 64 } } }),
    dflt: () => ({}),
  };
  for (const lane of lanes) for (const [name, make] of Object.entries(cases)) {
    const c = JSON.parse(JSON.stringify(base)), k = make(lane);
    c.process.args = ["sleep", "1000"]; c.process.terminal = false;
    c.root = { path: `${work}/rootfs`, readonly: false };
    if (k.path) c.linux.cgroupsPath = k.path;
    if (k.resources) c.linux.resources = k.resources;
    fs.mkdirSync(`${work}/${lane}-${name}`);
    fs.writeFileSync(`${work}/${lane}-${name}/config.json`, JSON.stringify(c));
  }
' "$WORK" $LANES
chown -R "$UID_:$UID_" "$WORK"

for lane in $LANES; do
  echo "--- $lane (uid $UID_)"
  unit=tcr-test-$lane-u.scope cg=$MGR/user.slice/tcr-test-$lane-u.scope id=$lane-u
  if rt "$lane" run --detach --bundle "$WORK/$lane-limits" "$id" < /dev/null > "$WORK/out" 2>&1; then
    pass "$lane" "user: run --detach in user.slice:tcr-test:NAME"
    got=$(init_cgroup "$lane" "$id")
    ok "$lane" "user: init in user@UID.service/user.slice/tcr-test-NAME.scope" "in $got" [ "$got" = "$cg" ]
    ok "$lane" "user: systemctl --user status: active" "$(as_user "$UID_" systemctl --user status "$unit" 2>&1 | head -3)" \
      eval 'as_user "$UID_" systemctl --user status "$unit" > /dev/null 2>&1'
    ok "$lane" "user: Delegate=yes, MemoryMax, TasksMax, CPUQuota" \
      "$(uprop "$unit" Delegate) $(uprop "$unit" MemoryMax) $(uprop "$unit" TasksMax) $(uprop "$unit" CPUQuotaPerSecUSec)" \
      eval '[ "$(uprop $unit Delegate) $(uprop $unit MemoryMax) $(uprop $unit TasksMax) $(uprop $unit CPUQuotaPerSecUSec)" = "yes 67108864 64 500ms" ]'
    got="$(cg_file "$cg" memory.max) $(cg_file "$cg" pids.max) $(cg_file "$cg" cpu.max)"
    ok "$lane" "user: memory.max, pids.max, cpu.max files" "$got" [ "$got" = "67108864 64 50000 100000" ]
    rt "$lane" delete --force "$id"
    ok "$lane" "user: delete removes unit and directory" "$(uprop "$unit" ActiveState) $(ls -d "/sys/fs/cgroup$cg" 2>&1)" \
      eval 'ugone $unit && [ ! -e /sys/fs/cgroup$cg ]'
  else
    fail "$lane" "user: run --detach in user.slice:tcr-test:NAME" "$(tail -3 "$WORK/out")"
  fi
  # no cgroupsPath: the runtime's default, in the user manager's user.slice
  id=$lane-d prefix=tcr; [ "$lane" = runc ] && prefix=runc
  cg=$MGR/user.slice/$prefix-$id.scope
  if rt "$lane" run --detach --bundle "$WORK/$lane-dflt" "$id" < /dev/null > "$WORK/out" 2>&1; then
    got=$(init_cgroup "$lane" "$id")
    ok "$lane" "user: no cgroupsPath: user.slice:$prefix:ID" "in $got" [ "$got" = "$cg" ]
    rt "$lane" delete --force "$id"
  else
    fail "$lane" "user: no cgroupsPath: user.slice:$prefix:ID" "$(tail -3 "$WORK/out")"
  fi
done

# without the user's bus: a clear error, nothing left
out=$(USER_ENV=(); rt tcr run --bundle "$WORK/tcr-dflt" tcr-nobus 2>&1 < /dev/null); rc=$?
left=$(ls "$WORK/state-tcr" 2>/dev/null | grep -x tcr-nobus; ls -d /sys/fs/cgroup$MGR/user.slice/tcr-tcr-nobus.scope 2>/dev/null)
ok tcr "user: no user bus: an error naming it, nothing left" "rc $rc, $out, left: $left" \
  eval '[ $rc -ne 0 ] && grep -q "XDG_RUNTIME_DIR is unset" <<<"$out" && [ -z "$left" ]'

echo "systemd --user: $failures failed"
exit $failures
