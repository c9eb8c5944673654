// `tcr run --rm busybox true` against `podman run --rm busybox true` on an
// image already present, side by side in one run (issue 4's target: tcr at
// most half podman's time). Both use private stores in a temp dir; podman
// gets the same busybox rootfs through `podman import`.
// Usage (root, after scripts/setup.sh): node bench/image-run.js   [BENCH_N=20]
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadAverage, median } from './stats.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TCR = path.join(REPO, 'bin', 'tcr');
const N = Number(process.env.BENCH_N ?? 20);
// what else the machine was doing: printed with the figures
const loadBefore = loadAverage();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tcr-bench-img-'));
// the runtime named explicitly: where crun is installed podman picks it, and crun refuses hybrid hosts
const podmanArgs = [
  '--runtime',
  process.env.PODMAN_RUNTIME ?? 'runc',
  '--root',
  path.join(tmp, 'pstore'),
  '--runroot',
  path.join(tmp, 'prun'),
  '--tmpdir',
  path.join(tmp, 'ptmp'),
  '--cgroup-manager',
  'cgroupfs',
  '--events-backend',
  'none',
];
const tcrArgs = ['--root', path.join(tmp, 'state'), '--store', path.join(tmp, 'store')];
// podman's locks and cgroup parent stay inside the benchmark too (not /dev/shm, not libpod_parent)
const cgroupParent = `/tcr-bench-podman-${process.pid}`;
fs.writeFileSync(path.join(tmp, 'containers.conf'), `[engine]\nlock_type = "file"\nvolume_path = "${tmp}/volumes"\n`);
process.env.CONTAINERS_CONF = path.join(tmp, 'containers.conf');

function time(cmd, args) {
  const t = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return ms;
}

try {
  execFileSync(TCR, [...tcrArgs, 'import', '-q', path.join(REPO, 'demo', 'busybox-oci'), 'busybox'], { stdio: 'ignore' });
  const tar = spawnSync('tar', ['-C', path.join(REPO, 'demo', 'busybox', 'rootfs'), '-c', '.'], { maxBuffer: 1 << 28 });
  execFileSync('podman', [...podmanArgs, 'import', '--change', 'CMD ["sh"]', '-', 'localhost/busybox:latest'], {
    input: tar.stdout,
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  const runs = {
    tcr: [TCR, [...tcrArgs, 'run', '--rm', '--network', 'none', 'busybox', 'true']],
    podman: [
      'podman',
      [
        ...podmanArgs,
        'run',
        '--rm',
        '--network',
        'none',
        '--cgroup-parent',
        cgroupParent,
        '--ulimit',
        'nofile=1024:1024',
        '--ulimit',
        'nproc=1024:1024',
        'localhost/busybox',
        'true',
      ],
    ],
    // as bin/tcr starts node: without NODE_EXTRA_CA_CERTS (bin/tcr says why)
    'node -e 0': ['env', ['-u', 'NODE_EXTRA_CA_CERTS', process.execPath, '-e', '0']],
  };
  const results = Object.fromEntries(Object.keys(runs).map((k) => [k, []]));
  for (let i = 0; i < N + 2; i++) {
    const order = i % 2 ? Object.keys(runs) : Object.keys(runs).reverse();
    for (const k of order) {
      const ms = time(...runs[k]);
      if (i >= 2) results[k].push(ms);
    }
  }
  const t = median(results.tcr),
    p = median(results.podman),
    n = median(results['node -e 0']);
  console.log(`### tcr run vs podman run, image present (N=${N}, medians in ms)\n`);
  console.log(
    `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, podman --runtime ${podmanArgs[1]}, ${os.cpus().length} cores, load average before ${loadBefore} / after ${loadAverage()} (1, 5, 15 min)\n`,
  );
  console.log(
    '| tcr run --rm busybox true | podman run --rm busybox true | tcr / podman | bare node -e 0 (no NODE_EXTRA_CA_CERTS) | target: tcr ≤ podman / 2 |',
  );
  console.log('|---:|---:|---:|---:|---|');
  console.log(`| ${t.toFixed(1)} | ${p.toFixed(1)} | ${(t / p).toFixed(2)} | ${n.toFixed(1)} | ${t <= p / 2 ? 'met' : '**not met**'} |`);
} finally {
  spawnSync('podman', [...podmanArgs, 'rm', '-a', '-f'], { stdio: 'ignore' });
  spawnSync('podman', [...podmanArgs, 'system', 'reset', '-f'], { stdio: 'ignore' });
  for (const id of fs.existsSync(path.join(tmp, 'state')) ? fs.readdirSync(path.join(tmp, 'state')) : [])
    spawnSync(TCR, [...tcrArgs, 'delete', '--force', id]);
  spawnSync('umount', ['-R', path.join(tmp, 'pstore')], { stdio: 'ignore' });
  // podman leaves its empty per-container cgroups under the parent it was given
  const rmTree = (dir) => {
    if (!fs.existsSync(dir)) return;
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) rmTree(path.join(dir, e.name));
    try {
      fs.rmdirSync(dir);
    } catch {
      // still in use: reported by the check below
    }
  };
  for (const h of fs.readdirSync('/sys/fs/cgroup')) rmTree(path.join('/sys/fs/cgroup', h, cgroupParent));
  fs.rmSync(tmp, { recursive: true, force: true });
}
