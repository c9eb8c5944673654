#!/usr/bin/env bash
# Everything a fresh Debian machine needs before tcr runs or is tested:
# Debian packages, npm packages, the TypeScript build, the native addon and
# the demo bundle. Idempotent: each part is skipped when already in place.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
  echo "setup: tcr creates namespaces, mounts and cgroups: run this as root (from another account: su -c 'npm test' or su -c 'npm run demo', or sudo where it is installed)" >&2
  exit 1
fi

# podman, podman-compose, conmon and containerd are the real clients of test/e2e/ (they
# drive tcr exactly as they drive runc, which is their control lane)
# docker-registry, skopeo and openssl: test/integration/registry.test.ts runs a
# private registry (token auth signed with an openssl certificate) and pushes to it
# musl-tools: the executor (native/executor.c) is a static program linked against musl (native/build-executor.sh)
# containernetworking-plugins and iproute2: test/e2e/cri.test.ts gives containerd's CRI plugin a
# bridge (made with ip) and the CNI bridge, host-local and loopback plugins from /usr/lib/cni;
# tcr run's own bridge networking (src/network/) uses the bridge, host-local, portmap and firewall
# plugins, which call iptables, and ip for `tcr network rm`
# clang-format: scripts/lint.sh checks native/'s style
# tini: tcr run --init bind-mounts its static build (/usr/bin/tini-static) as the container's PID 1, as docker does its docker-init
# chromium: test/integration/labs.test.ts renders `tcr lab all`'s HTML report and a lab's SVG in headless Chromium
# (--dump-dom, --screenshot), so that a report a browser cannot show fails the tests; it is large, but installed once
# librsvg2-bin: rsvg-convert, which draws a PNG beside each lab's SVG (src/labs/runner.ts)
# uidmap: newuidmap and newgidmap, which map an ordinary user's /etc/subuid and /etc/subgid ranges into a rootless container
# slirp4netns: rootless podman's default network (test/e2e/rootless-podman.test.ts), a recommends of podman, named here
# catatonit: the init of podman's pod infra container (its local pause image), which test/e2e/userns-podman.test.ts makes
# qemu-system-x86 and linux-image-amd64: `tcr lab vm-vs-container` boots Debian's kernel in a QEMU guest beside a
# container (test/integration/labs*.test.ts), as the cgroup v2 lane does (test/v2-guest/run.sh); a fresh machine
# image may have no kernel in /boot at all
# libisal-dev: ISA-L's header, for the addon's gzip inflater (native/inflate.cc); libisal2 is what it opens at run time
packages=(busybox-static libseccomp2 libisal2 libisal-dev runc g++ musl-tools make python3 podman podman-compose conmon containerd containernetworking-plugins iproute2 iptables docker-registry skopeo openssl clang-format tini chromium uidmap librsvg2-bin slirp4netns catatonit qemu-system-x86 linux-image-amd64)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi

# the lint tools' own packages (tools/lint/eslint.config.js says why they are apart)
if [ ! -d tools/lint/node_modules ] || [ tools/lint/package-lock.json -nt tools/lint/node_modules/.package-lock.json ]; then
  echo "setup: npm ci in tools/lint"
  npm ci --prefix tools/lint --no-audit --no-fund --loglevel=error
fi

if [ ! -f build/Release/tcr_native.node ] || [ ! -f build/Release/tcr_executor ] || [ -n "$(find native binding.gyp -newer build/Release/tcr_native.node 2>/dev/null)" ]; then
  echo "setup: building the native executor"
  npx node-gyp rebuild --silent >/dev/null
fi

if [ ! -f dist/tcr.cjs ] || [ -n "$(find src -newer dist/tcr.cjs 2>/dev/null)" ]; then
  echo "setup: compiling TypeScript and bundling the CLI"
  npx tsc -p .
  npm run -s bundle
fi

if [ ! -f demo/busybox/config.json ]; then
  bash rootfs/make-busybox.sh >/dev/null
fi

# the same rootfs as an image, in the default store: `tcr run busybox ...` needs no registry
if [ ! -f demo/busybox-oci/index.json ] || [ demo/busybox/config.json -nt demo/busybox-oci/index.json ]; then
  node rootfs/make-demo-image.mjs demo/busybox/rootfs demo/busybox-oci
fi
if ! bin/tcr images -q busybox 2>/dev/null | grep -q .; then
  bin/tcr import -q demo/busybox-oci busybox >/dev/null
fi
