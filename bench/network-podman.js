// tcr's bridge networking against podman's (netavark 1.4), side by side in
// one run, on the same busybox rootfs:
//  (a) `run --rm busybox true` on a bridge network: tcr's default `bridge`
//      (CNI bridge + host-local, no DNS) against `podman --runtime runc run
//      --rm --network NET` on a netavark bridge network of the bench's own
//      made with --disable-dns (as podman's default network is), so both
//      pay a veth, an address and the NAT rules, and no DNS server;
//  (b) a published port: busybox httpd in one container of each, `-p
//      127.0.0.1:PORT:80`, and HTTP GETs from the host over loopback with
//      Node's http client (no keep-alive: httpd closes each connection):
//      N sequential requests (latency median and p90), then a bounded batch
//      at a concurrency of 8 (requests per second), alternating targets.
// Private stores, state roots, podman network config dir and locks in a
// temp dir; everything removed at the end.
// Usage (root, after scripts/setup.sh): node bench/network-podman.js   [BENCH_N=20] [BENCH_REQUESTS=400]
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadAverage, median, quantile } from './stats.js';
import { PodmanSide } from './podman-side.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TCR = path.join(REPO, 'bin', 'tcr');
const N = Number(process.env.BENCH_N ?? 20);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 400);
const CONCURRENCY = 8;
const loadBefore = loadAverage();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tcr-bench-netpod-'));
const PODNET = `tcrbench${process.pid}`;
const PODSUBNET = process.env.BENCH_PODMAN_SUBNET ?? '10.89.249.0/24';
// under /tcr, beside tcr's own containers (/tcr/ID): with v1's cpu shares, a podman parent at the root would
// get a whole root-level share to itself while tcr's container splits /tcr's with every other tcr container
const side = new PodmanSide(REPO, tmp, { cgroupParent: `/tcr/tcr-bench-podman-${process.pid}`, netavark: true });
const { podmanArgs, tcrArgs, podmanRun, runtime: RUNTIME } = side;

function time(cmd, args) {
  const t = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return ms;
}

async function freePort() {
  const srv = net.createServer();
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const p = srv.address().port;
  await new Promise((r) => srv.close(r));
  return p;
}

const agent = new http.Agent({ keepAlive: false });
function get(port) {
  const t = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/', agent, timeout: 5000 }, (res) => {
        res.on('error', reject);
        res.resume();
        res.on('end', () =>
          res.statusCode === 200 ? resolve(Number(process.hrtime.bigint() - t) / 1e6) : reject(new Error(`HTTP ${res.statusCode}`)),
        );
      })
      .on('error', reject);
  });
}

async function waitServing(port) {
  for (let i = 0; i < 100; i++) {
    try {
      return await get(port);
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`nothing serves 127.0.0.1:${port}`);
}

/** `count` requests with `CONCURRENCY` in flight: requests per second. */
async function batch(port, count) {
  let next = 0;
  const t = process.hrtime.bigint();
  const worker = async () => {
    while (next++ < count) await get(port);
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return count / (Number(process.hrtime.bigint() - t) / 1e9);
}

const serve = ['sh', '-c', 'mkdir -p /www && echo bench > /www/index.html && exec httpd -f -p 80 -h /www'];
const fmt = (x) => x.toFixed(1);

try {
  side.importBusybox();
  execFileSync('podman', [...podmanArgs, 'network', 'create', '--disable-dns', '--subnet', PODSUBNET, PODNET], { stdio: 'ignore' });
  const podIf = JSON.parse(execFileSync('podman', [...podmanArgs, 'network', 'inspect', PODNET], { encoding: 'utf8' }))[0]
    .network_interface;

  // (a) run --rm on a bridge network
  const runs = {
    tcr: [TCR, [...tcrArgs, 'run', '--rm', 'busybox', 'true']],
    podman: ['podman', [...podmanArgs, ...podmanRun, '--rm', '--network', PODNET, 'localhost/busybox', 'true']],
  };
  const results = { tcr: [], podman: [] };
  for (let i = 0; i < N + 2; i++) {
    for (const k of i % 2 ? ['tcr', 'podman'] : ['podman', 'tcr']) {
      const ms = time(...runs[k]);
      if (i >= 2) results[k].push(ms);
    }
  }
  const loadMid = loadAverage();

  // (b) a published port
  const ports = { tcr: await freePort(), podman: await freePort() };
  execFileSync(TCR, [...tcrArgs, 'run', '-d', '--name', 'web', '-p', `127.0.0.1:${ports.tcr}:80`, 'busybox', ...serve], {
    stdio: 'ignore',
  });
  execFileSync(
    'podman',
    [
      ...podmanArgs,
      ...podmanRun,
      '-d',
      '--name',
      'web',
      '--network',
      PODNET,
      '-p',
      `127.0.0.1:${ports.podman}:80`,
      'localhost/busybox',
      ...serve,
    ],
    { stdio: 'ignore' },
  );
  for (const k of ['tcr', 'podman']) await waitServing(ports[k]);
  const lat = { tcr: [], podman: [] };
  for (let i = 0; i < REQUESTS; i++) for (const k of i % 2 ? ['tcr', 'podman'] : ['podman', 'tcr']) lat[k].push(await get(ports[k]));
  const rps = { tcr: [], podman: [] };
  for (let i = 0; i < 4; i++)
    for (const k of i % 2 ? ['tcr', 'podman'] : ['podman', 'tcr']) rps[k].push(await batch(ports[k], REQUESTS / 2));

  const t = median(results.tcr);
  const p = median(results.podman);
  const stamp = new Date().toISOString().slice(0, 16).replace('T', ' ');
  console.log(`### (a) run --rm on a bridge network: tcr against podman (N=${N}, ms)\n`);
  console.log(
    `${stamp} UTC, podman --runtime ${RUNTIME} (netavark 1.4, network ${PODNET} --disable-dns, bridge ${podIf}), tcr's default bridge tcr0; ${os.cpus().length} cores, load average before ${loadBefore} / after ${loadMid} (1, 5, 15 min)\n`,
  );
  console.log('| tcr run --rm busybox true | p90 | podman run --rm --network NET busybox true | p90 | tcr / podman | target: ≤ 0.5 |');
  console.log('|---:|---:|---:|---:|---:|---|');
  console.log(
    `| ${fmt(t)} | ${fmt(quantile(results.tcr, 0.9))} | ${fmt(p)} | ${fmt(quantile(results.podman, 0.9))} | ${(t / p).toFixed(2)} | ${t <= p / 2 ? 'met' : '**not met**'} |\n`,
  );
  console.log(
    `### (b) busybox httpd behind -p 127.0.0.1:PORT:80, GETs from the host over loopback (${REQUESTS} sequential each, then 4 × ${REQUESTS / 2} at concurrency ${CONCURRENCY}, alternating)\n`,
  );
  console.log(`load average after ${loadAverage()}; tcr: CNI portmap (DNAT, snat for loopback); podman: netavark's DNAT rules\n`);
  console.log('| | latency median ms | p90 ms | requests/s at concurrency 8 (median of 4) |');
  console.log('|---|---:|---:|---:|');
  for (const k of ['tcr', 'podman'])
    console.log(`| ${k} | ${lat[k].length ? fmt(median(lat[k])) : '-'} | ${fmt(quantile(lat[k], 0.9))} | ${fmt(median(rps[k]))} |`);
  const ratio = median(lat.tcr) / median(lat.podman);
  const rr = median(rps.tcr) / median(rps.podman);
  console.log(
    `\ntcr / podman: latency ${ratio.toFixed(2)}, requests/s ${rr.toFixed(2)}; target within 10 %: ${Math.abs(ratio - 1) <= 0.1 && rr >= 0.9 ? 'met' : '**not met**'}`,
  );
} finally {
  spawnSync(TCR, [...tcrArgs, 'rm', '-f', 'web'], { stdio: 'ignore' });
  side.cleanup([PODNET]);
}
