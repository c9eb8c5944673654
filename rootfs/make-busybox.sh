#!/usr/bin/env bash
# Builds the built-in demo bundle from Debian's busybox-static: a rootfs with
# the static busybox and one symlink per applet, and a config.json that
# prints hello. No registry, no network: everything comes from the package.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$here/demo/busybox}
busybox=${BUSYBOX:-/bin/busybox}
if ldd "$busybox" >/dev/null 2>&1; then
  echo "make-busybox: $busybox is dynamically linked; install busybox-static" >&2
  exit 1
fi
rm -rf "$out.tmp"
mkdir -p "$out.tmp/rootfs"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,root,var,home}
cp "$busybox" "$out.tmp/rootfs/bin/busybox"
for applet in $("$busybox" --list-full); do
  [ "$applet" = bin/busybox ] && continue
  ln -sf /bin/busybox "$out.tmp/rootfs/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n' > "$out.tmp/rootfs/etc/passwd"
printf 'root:x:0:\ntty:x:5:\nnogroup:x:65534:\n' > "$out.tmp/rootfs/etc/group"
chmod 1777 "$out.tmp/rootfs/tmp"
"$here/bin/tcr" spec --bundle "$out.tmp"
node -e '
const fs = require("fs"); const f = process.argv[1];
const c = JSON.parse(fs.readFileSync(f, "utf8"));
c.process.terminal = false;
c.process.args = ["sh", "-c", "echo hello from a tcr container: $(hostname), pid $$, uid $(id -u)"];
c.hostname = "tcr-demo";
fs.writeFileSync(f, JSON.stringify(c, null, 2));
' "$out.tmp/config.json"
rm -rf "$out"
mv "$out.tmp" "$out"
echo "demo bundle ready: $out"
