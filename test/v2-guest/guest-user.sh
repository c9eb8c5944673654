# Sourced by the guest's rootless checks (rootless.sh, systemd-user.sh): an
# ordinary user made for the run. The guest's /etc is the host's, read-only
# (or an overlay on it): the account files are copies bound over the
# originals, in the guest only, so the host's accounts are never touched.
# guest_user NAME UID: makes the account (own group, home under /tmp, and
# /etc/subuid, /etc/subgid ranges of 65536 ids from UID*100000); sets USER_HOME.
guest_user() {
  local name=$1 uid=$2 f
  if [ -z "${GUEST_ACCOUNTS_BOUND:-}" ]; then
    for f in passwd group shadow subuid subgid; do
      cp "/etc/$f" "/run/guest-user.$f" 2>/dev/null || : > "/run/guest-user.$f"
      mount --bind "/run/guest-user.$f" "/etc/$f" || return 1
    done
    GUEST_ACCOUNTS_BOUND=1
  fi
  USER_HOME=/tmp/home-$name
  echo "$name:x:$uid:$uid::$USER_HOME:/bin/bash" >> /etc/passwd
  echo "$name:x:$uid:" >> /etc/group
  echo "$name:!:19000::::::" >> /etc/shadow
  echo "$name:$((uid * 100000)):65536" >> /etc/subuid
  echo "$name:$((uid * 100000)):65536" >> /etc/subgid
  mkdir -p "$USER_HOME" && chown "$uid:$uid" "$USER_HOME"
  # Debian's kernel asks for this before an ordinary user may make a user namespace
  [ -w /proc/sys/kernel/unprivileged_userns_clone ] && echo 1 > /proc/sys/kernel/unprivileged_userns_clone
  return 0
}

# as_user UID COMMAND...: runs it as that user with a clean environment (plus USER_ENV=(NAME=VALUE...))
as_user() {
  local uid=$1; shift
  setpriv --reuid="$uid" --regid="$uid" --init-groups \
    env -i PATH="$PATH" HOME="/tmp/home-$(id -nu "$uid")" USER="$(id -nu "$uid")" LANG=C.UTF-8 "${USER_ENV[@]}" "$@"
}
