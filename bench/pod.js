#!/usr/bin/env node
// Pod start and removal through Kubernetes' road, tcr against runc in one
// run: a private containerd 1.6 with its CRI plugin and the two runtime
// handlers (the set-up of test/e2e/cri.test.ts, test/e2e/cri/env.ts), driven
// by the CRI calls a kubelet makes. Start: RunPodSandbox + CreateContainer +
// StartContainer of a busybox container, until ContainerStatus says
// running. Removal: StopPodSandbox + RemovePodSandbox. Iterations alternate
// which runtime goes first. Every runtime call the shim makes is recorded
// with its duration by the handlers' wrappers: the second table says where
// the time goes.
//
//   node bench/pod.js (as root)          BENCH_N=30 node bench/pod.js
//
// Plain Node ESM; the suite's TypeScript (env.ts and what it imports) is
// bundled by esbuild (the repo's bundler) into node_modules/.cache first.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { die, loadAverage, median, quantile } from './stats.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const N = Number(process.env.BENCH_N ?? 10);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 2);
const loadBefore = loadAverage();

if (!Number.isInteger(N) || N < 1) die(`BENCH_N must be a positive integer, got ${JSON.stringify(process.env.BENCH_N)}`);
if (process.getuid() !== 0) die('pods need root: run as root (node bench/pod.js)');
for (const f of ['dist/tcr.cjs', 'build/Release/tcr_native.node', 'demo/busybox/config.json'])
  if (!fs.existsSync(path.join(REPO, f))) die(`${f} is missing: run \`bash scripts/setup.sh\` first`);

/**
 * test/e2e/cri/env.ts, the call-log readers of test/e2e/lib.ts and what they
 * import, as one ES module. Each file keeps its own import.meta.url (the
 * suite finds the repo and the proto file by it); npm packages stay imports,
 * resolved from the repo's node_modules.
 */
async function loadSuite() {
  const out = path.join(REPO, 'node_modules', '.cache', 'tcr-bench', 'cri-env.mjs');
  await build({
    stdin: {
      contents:
        "export * from './cri/env.ts'; export { removeCgroupTree } from './cri/cgroups.ts'; export { LANES, calls, commandOf, daemonEnv, timeOf } from './lib.ts';",
      resolveDir: path.join(REPO, 'test', 'e2e'),
      sourcefile: 'bench-pod-entry.ts',
      loader: 'ts',
    },
    outfile: out,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    logLevel: 'error',
    plugins: [
      {
        name: 'own-import-meta-url',
        setup(b) {
          b.onLoad({ filter: /\.ts$/ }, (args) => ({
            contents: fs.readFileSync(args.path, 'utf8').replaceAll('import.meta.url', JSON.stringify(pathToFileURL(args.path).href)),
            loader: 'ts',
          }));
        },
      },
    ],
  });
  return import(pathToFileURL(out).href);
}

const f1 = (x) => (x === undefined || Number.isNaN(x) ? '' : x.toFixed(1));

async function timed(fn) {
  const t0 = process.hrtime.bigint();
  const v = await fn();
  return [Number(process.hrtime.bigint() - t0) / 1e6, v];
}

/** One pod's life on one handler; returns each phase's ms. */
async function podCycle(lib, env, lane, i) {
  const t = {};
  const config = env.podConfig(lane, `bench${i}`);
  const [runMs, podId] = await timed(() => env.cri.runPodSandbox(config, lane));
  t.run = runMs;
  const pod = { id: podId, config, lane, cgroupParent: config.linux.cgroup_parent };
  const [createMs, id] = await timed(() => env.createContainer(pod, 'c', ['sleep', '3600']));
  t.create = createMs;
  const [startMs] = await timed(async () => {
    await env.cri.startContainer(id);
    for (;;) {
      const st = (await env.cri.containerStatus(id)).state;
      if (st === 'CONTAINER_RUNNING') return;
      if (st !== 'CONTAINER_CREATED') throw new Error(`container of pod ${i} on ${lane} is ${st}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  });
  t.start = startMs;
  t.podStart = t.run + t.create + t.start;
  [t.stop] = await timed(() => env.cri.stopPodSandbox(podId));
  [t.remove] = await timed(() => env.cri.removePodSandbox(podId));
  t.podRemove = t.stop + t.remove;
  // as the kubelet removes the pod's cgroup (not timed)
  lib.removeCgroupTree(pod.cgroupParent);
  return t;
}

/** The runtime calls a handler's wrapper recorded from `since` on: per command, how many per pod and how long each took. */
function callStats(lib, env, lane, since, pods) {
  const by = new Map();
  for (const line of lib.calls(env.callLog(lane))) {
    const time = lib.timeOf(line);
    if (!time || time.start < since) continue;
    const cmd = lib.commandOf(line);
    if (!by.has(cmd)) by.set(cmd, []);
    by.get(cmd).push(time.ms);
  }
  return new Map(
    [...by].map(([cmd, ms]) => [cmd, { perPod: ms.length / pods, median: median(ms), total: ms.reduce((a, b) => a + b, 0) / pods }]),
  );
}

async function main() {
  const lib = await loadSuite();
  if (!lib.criAvailable())
    die('needs containerd, ctr, containerd-shim-runc-v2, ip and the CNI plugins in /usr/lib/cni (bash scripts/setup.sh)');
  const lanes = lib.LANES;
  const env = await lib.CriEnv.start(lanes);
  let interrupted = false;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'])
    process.on(sig, () => {
      interrupted = true;
      console.error(`bench: ${sig}, cleaning up`);
    });
  const samples = { tcr: [], runc: [] };
  let since = 0;
  try {
    process.stderr.write(`bench: ${WARMUP} warm-up + ${N} pods per runtime, alternating\n`);
    for (let i = 0; i < WARMUP + N && !interrupted; i++) {
      if (i === WARMUP) since = Date.now();
      const order = i % 2 ? ['runc', 'tcr'] : ['tcr', 'runc'];
      for (const rt of order) {
        const t = await podCycle(lib, env, rt, i);
        if (i >= WARMUP) samples[rt].push(t);
      }
      if (process.stderr.isTTY) process.stderr.write(`\r  ${i + 1}/${WARMUP + N}`);
    }
    if (process.stderr.isTTY) process.stderr.write('\n');
    if (interrupted) {
      process.exitCode = 130;
      return;
    }
    // the floor as the runtimes pay it: in the daemon's environment (test/e2e/lib.ts daemonEnv)
    const node = [];
    for (let i = 0; i < 10; i++)
      node.push((await timed(async () => spawnSync(process.execPath, ['-e', '0'], { env: lib.daemonEnv() })))[0]);
    report(
      samples,
      {
        tcr: callStats(lib, env, 'tcr', since, N),
        runc: callStats(lib, env, 'runc', since, N),
      },
      median(node),
    );
  } finally {
    await env.cleanup(lanes);
  }
}

function report(samples, calls, node) {
  const runcV = spawnSync('runc', ['--version'], { encoding: 'utf8' })
    .stdout.split('\n')[0]
    .replace(/^runc version /, '');
  const ctrdV = spawnSync('containerd', ['--version'], { encoding: 'utf8' }).stdout.trim().split(' ')[2] ?? '?';
  console.log(`### Pod start and removal through containerd's CRI: tcr vs runc (N=${N}, medians and p90 in ms)\n`);
  console.log(
    `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, N=${N} pods per runtime (+${WARMUP} warm-up), containerd ${ctrdV}, runc ${runcV}, node ${process.version}, Linux ${os.release()}, ${os.cpus().length} CPUs, load average before ${loadBefore} / after ${loadAverage()} (1, 5, 15 min)\n`,
  );
  console.log('| phase | tcr median | tcr p90 | runc median | runc p90 | tcr / runc |');
  console.log('|---|---:|---:|---:|---:|---:|');
  const phases = [
    ['**pod start** (RunPodSandbox + CreateContainer + StartContainer until running)', 'podStart'],
    ['&nbsp;&nbsp;RunPodSandbox', 'run'],
    ['&nbsp;&nbsp;CreateContainer', 'create'],
    ['&nbsp;&nbsp;StartContainer until running', 'start'],
    ['**pod removal** (StopPodSandbox + RemovePodSandbox)', 'podRemove'],
    ['&nbsp;&nbsp;StopPodSandbox', 'stop'],
    ['&nbsp;&nbsp;RemovePodSandbox', 'remove'],
  ];
  const med = {};
  for (const [label, k] of phases) {
    const t = samples.tcr.map((s) => s[k]),
      r = samples.runc.map((s) => s[k]);
    med[k] = [median(t), median(r)];
    console.log(
      `| ${label} | ${f1(median(t))} | ${f1(quantile(t, 0.9))} | ${f1(median(r))} | ${f1(quantile(r, 0.9))} | ${(median(t) / median(r)).toFixed(2)} |`,
    );
  }
  const ratio = med.podStart[0] / med.podStart[1];
  console.log(`\nTarget, pod start: tcr ≤ 1.5 × runc: ${ratio <= 1.5 ? 'met' : '**not met**'} (${ratio.toFixed(2)} ×).\n`);
  console.log(
    "Runtime calls the shim made per pod (start and removal), from the handlers' wrappers: count per pod, median ms per call, ms per pod.\n",
  );
  console.log('| command | tcr calls / pod | tcr median | tcr ms / pod | runc calls / pod | runc median | runc ms / pod |');
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  const cmds = [...new Set([...calls.tcr.keys(), ...calls.runc.keys()])].sort();
  let tt = 0,
    rt = 0;
  for (const c of cmds) {
    const t = calls.tcr.get(c),
      r = calls.runc.get(c);
    tt += t?.total ?? 0;
    rt += r?.total ?? 0;
    console.log(
      `| \`${c}\` | ${f1(t?.perPod)} | ${f1(t?.median)} | ${f1(t?.total)} | ${f1(r?.perPod)} | ${f1(r?.median)} | ${f1(r?.total)} |`,
    );
  }
  const tcrCalls = [...calls.tcr.values()].reduce((a, v) => a + v.perPod, 0);
  console.log(`| all | ${f1(tcrCalls)} | | ${f1(tt)} | ${f1([...calls.runc.values()].reduce((a, v) => a + v.perPod, 0))} | | ${f1(rt)} |`);
  console.log(
    `\nA bare \`node -e 0\` in containerd's environment takes ${f1(node)} ms here: ${f1(tcrCalls)} tcr calls per pod pay ~${f1(tcrCalls * node)} ms of Node start-up. Each wrapper call also pays two \`date\` runs (~2 ms), alike for both.`,
  );
}

try {
  await main();
} catch (e) {
  console.error(`bench: ${e.stack ?? e}`);
  process.exitCode = 1;
}
