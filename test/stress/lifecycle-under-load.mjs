#!/usr/bin/env node
// The created-but-dead race, tried the hard way: create/start/delete cycles
// (and execs into a running container) with tcr at nice 19 while both cores
// are saturated by busy loops and a large share of memory is held and
// touched. Prints each failure and a summary; exits 1 if anything failed.
// Not part of `npm test` (it takes long): run it by hand, as root:
//   node test/stress/lifecycle-under-load.mjs [--cycles 1000] [--execs 1000] [--tcr bin/tcr]
//     [--burners N] [--burner-nice 19] [--hog-mb MB]
// The busy loops run at --burner-nice (19, tcr's own, by default: at nice 0
// they would leave tcr ~1.5% of a core, ten seconds a command).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const repo = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
const TCR = path.resolve(arg('--tcr', path.join(repo, 'bin', 'tcr')));
const CYCLES = Number(arg('--cycles', 1000));
const EXECS = Number(arg('--execs', 1000));
const BURNERS = Number(arg('--burners', os.cpus().length));
const BURNER_NICE = Number(arg('--burner-nice', 19));
const HOG_MB = Number(arg('--hog-mb', Math.max(0, Math.min(16384, Math.floor(os.freemem() / 2 ** 20) - 3072))));

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcr-stress-'));
const root = path.join(dir, 'state');
const helpers = [];
const bundle = (name, args) => {
  const b = path.join(dir, name);
  fs.mkdirSync(b);
  spawnSync('cp', ['-a', path.join(repo, 'demo', 'busybox', 'rootfs'), path.join(b, 'rootfs')]);
  const spec = JSON.parse(fs.readFileSync(path.join(repo, 'demo', 'busybox', 'config.json'), 'utf8'));
  spec.process.args = args;
  spec.process.terminal = false;
  fs.writeFileSync(path.join(b, 'config.json'), JSON.stringify(spec));
  return b;
};
// output to a file, not a pipe: a created init holds create's stdout until it exits
const outFile = path.join(dir, 'out.log');
const tcr = (args, file = outFile) => {
  const fd = fs.openSync(file, 'w');
  try {
    const r = spawnSync('nice', ['-n', '19', TCR, '--root', root, ...args], { stdio: ['ignore', fd, fd], timeout: 120_000 });
    return { status: r.status, out: fs.readFileSync(file, 'utf8').trim() };
  } finally {
    fs.closeSync(fd);
  }
};

function cleanup() {
  for (const h of helpers)
    try {
      process.kill(h.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  if (fs.existsSync(root))
    for (const id of fs.readdirSync(root)) if (!id.startsWith('.')) spawnSync(TCR, ['--root', root, 'delete', '--force', id]);
  fs.rmSync(dir, { recursive: true, force: true });
}
// handlers run between commands: each cycle yields to the event loop (tick below)
for (const sig of ['SIGINT', 'SIGTERM'])
  process.on(sig, () => {
    cleanup();
    process.exit(130);
  });

// load: busy loops on every core, and memory held and touched again and again
for (let i = 0; i < BURNERS; i++)
  helpers.push(spawn('nice', ['-n', String(BURNER_NICE), 'sh', '-c', 'while :; do :; done'], { stdio: 'ignore' }));
if (HOG_MB > 0)
  // held and touched now and then, at nice 19 too: pressure on memory, not another CPU hog
  helpers.push(
    spawn(
      'nice',
      [
        '-n',
        '19',
        process.execPath,
        '-e',
        `const b=[];for(let i=0;i<${HOG_MB};i++)b.push(Buffer.alloc(1<<20,1));setInterval(()=>{for(const x of b)for(let o=0;o<x.length;o+=4096)x[o]^=1},2000)`,
      ],
      { stdio: 'ignore' },
    ),
  );

const tick = () => new Promise((r) => setImmediate(r));
const failures = [];
// each failure printed when it happens too: a run cut short still tells what it saw
const push = failures.push.bind(failures);
failures.push = (f) => (console.log(`FAILED ${f}`), push(f));
const t0 = Date.now();
try {
  const short = bundle('short', ['true']);
  for (let i = 0; i < CYCLES; i++) {
    await tick();
    const id = `s${i}`;
    // the init keeps create's stdout and stderr: a failure after create returned is told there
    const initOut = path.join(dir, `init-${id}.log`);
    const c = tcr(['create', '--bundle', short, id], initOut);
    if (c.status !== 0) failures.push(`cycle ${i} create: ${c.out}`);
    else {
      // the init's pid, so a failure can be matched with a kernel trace of who signalled it
      const st = tcr(['state', id]);
      const pid = st.status === 0 ? JSON.parse(st.out).pid : '?';
      const s = tcr(['start', id]);
      if (s.status !== 0)
        failures.push(
          `cycle ${i} start (init pid ${pid}, ${new Date().toISOString()}): ${s.out}; the init said: ${JSON.stringify(fs.readFileSync(initOut, 'utf8'))}`,
        );
    }
    const d = tcr(['delete', '--force', id]);
    if (d.status !== 0) failures.push(`cycle ${i} delete: ${d.out}`);
    fs.rmSync(initOut, { force: true });
    if ((i + 1) % 100 === 0)
      console.log(`create/start/delete: ${i + 1}/${CYCLES}, ${failures.length} failures, ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  }
  const long = bundle('long', ['sleep', '100000']);
  const r = tcr(['run', '--detach', '--bundle', long, 'target']);
  if (r.status !== 0) throw new Error(`run --detach: ${r.out}`);
  const t1 = Date.now();
  let execFailures = 0;
  for (let i = 0; i < EXECS; i++) {
    await tick();
    const e = tcr(['exec', 'target', 'true']);
    if (e.status !== 0) {
      execFailures++;
      failures.push(`exec ${i}: exit ${e.status}: ${e.out}`);
    }
    if ((i + 1) % 100 === 0) console.log(`exec: ${i + 1}/${EXECS}, ${execFailures} failures, ${((Date.now() - t1) / 1000).toFixed(0)} s`);
  }
  tcr(['delete', '--force', 'target']);
} finally {
  cleanup();
}
console.log(
  `${new Date().toISOString()}: ${CYCLES} create/start/delete cycles and ${EXECS} execs at nice 19, ${BURNERS} busy loops at nice ${BURNER_NICE}, ${HOG_MB} MB held and touched: ${failures.length} failures (${((Date.now() - t0) / 1000).toFixed(0)} s)`,
);
process.exit(failures.length ? 1 : 0);
