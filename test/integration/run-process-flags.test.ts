// The `tcr run IMAGE` flags about the container's processes and records:
// --init (tini as PID 1: reaps orphans, forwards signals), --stop-signal and
// --stop-timeout as `tcr stop` uses them (the image's StopSignal too),
// --label/--label-file over the image's labels, --cidfile, docker's
// --rm=false forms, and `tcr exec -u NAME` looked up in the container.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, Sandbox, isRoot, lacks } from '../helpers.js';
import { buildImage, layoutLayers, writeLayout } from '../image-fixtures.js';

const OCI = path.join(REPO, 'demo', 'busybox-oci');
const USERS = [
  { name: 'etc', type: 'directory' as const },
  { name: 'etc/passwd', content: 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n' },
  { name: 'etc/group', content: 'root:x:0:\nwheel:x:10:root\napp:x:1000:\naudio:x:29:app\n' },
];
const hasTini = fs.existsSync('/usr/bin/tini-static');

describe.skipIf(lacks(isRoot && fs.existsSync(OCI)))('tcr run IMAGE: process and record flags', () => {
  const sb = new Sandbox('tcr-proc-flags');
  const store = path.join(sb.dir, 'store');
  const tcr = (args: string[]) => sb.tcr(['--store', store, ...args]);
  const states = () => (fs.existsSync(sb.root) ? fs.readdirSync(sb.root).filter((d) => !d.startsWith('.')) : []);
  const containers = () => (fs.existsSync(path.join(store, 'containers')) ? fs.readdirSync(path.join(store, 'containers')) : []);
  const detach = (name: string, flags: string[], cmd: string[]) => {
    const r = tcr(['run', '-d', '--network', 'none', '--name', name, ...flags, 'img', ...cmd]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  };
  const inspect = (name: string) => JSON.parse(tcr(['inspect', name]).stdout)[0];
  const running = (name: string) => inspect(name).State.Running as boolean;
  /** Polls `done` for up to 20 s (the machine is loaded: no assert on how long it takes). */
  const eventually = async (done: () => boolean) => {
    for (let i = 0; i < 200 && !done(); i++) await new Promise((r) => setTimeout(r, 100));
    return done();
  };
  /** The container's processes as "pid state comm" lines, from /proc (busybox ps has no state column) */
  const procs = (name: string) => tcr(['exec', name, 'sh', '-c', 'cat /proc/[0-9]*/stat']).stdout.split('\n').filter(Boolean);
  const zombies = (name: string) => procs(name).filter((l) => /^\d+ \([^)]*\) Z /.test(l));

  beforeAll(async () => {
    const img = await buildImage({
      layers: [...layoutLayers(OCI), USERS],
      editConfig: (c) => Object.assign(c.config as object, { Labels: { a: 'image', b: 'image' }, StopSignal: 'SIGUSR1' }),
    });
    const layout = path.join(sb.dir, 'layout');
    writeLayout(layout, [{ img, refName: 'latest' }]);
    expect(tcr(['import', '-q', layout, 'img']).stderr).toBe('');
  });
  afterAll(() => {
    for (const id of states()) tcr(['rm', '-f', id]);
    sb.cleanup();
  });

  describe.skipIf(lacks(hasTini))('--init', () => {
    it('runs tini, bound read-only at /sbin/docker-init, as PID 1 before the command', () => {
      const r = tcr([
        'run',
        '--rm',
        '--network',
        'none',
        '--init',
        'img',
        'sh',
        '-c',
        'tr "\\0" " " </proc/1/cmdline; echo; grep " /sbin/docker-init " /proc/self/mountinfo; exit 3',
      ]);
      expect(r.stdout).toMatch(/^\/sbin\/docker-init -- sh -c .*\n\d+ \d+ \S+ \S+ \/sbin\/docker-init ro,/);
      expect(r.status).toBe(3); // the command's status comes through
    });

    it('reaps orphans, where a PID 1 that never waits leaves them zombies', async () => {
      const orphan = ['sh', '-c', '(sleep 0.1 &); exec sleep 300'];
      detach('noinit', [], orphan);
      detach('withinit', ['--init'], orphan);
      try {
        expect(await eventually(() => zombies('noinit').length === 1)).toBe(true);
        // the orphan gone, not a zombie: only `sleep 300` is left
        expect(await eventually(() => procs('withinit').filter((l) => l.includes(' (sleep) ')).length === 1)).toBe(true);
        expect(zombies('withinit')).toEqual([]);
      } finally {
        tcr(['rm', '-f', 'noinit', 'withinit']);
      }
    });

    it('forwards signals: SIGTERM ends a command that, as PID 1, would ignore it', async () => {
      detach('fwd0', [], ['sleep', '300']);
      detach('fwd1', ['--init'], ['sleep', '300']);
      try {
        expect(tcr(['kill', 'fwd0', 'TERM']).status).toBe(0);
        expect(tcr(['kill', 'fwd1', 'TERM']).status).toBe(0);
        expect(await eventually(() => !running('fwd1'))).toBe(true);
        expect(running('fwd0')).toBe(true);
      } finally {
        tcr(['rm', '-f', 'fwd0', 'fwd1']);
      }
    });
  });

  describe('tcr stop', () => {
    const trap = (sig: string) => ['sh', '-c', `trap "echo got ${sig}; exit 0" ${sig}; echo ready; while :; do sleep 0.1; done`];
    const ready = (name: string) => eventually(() => tcr(['logs', name]).stdout.includes('ready'));

    it("sends the image's StopSignal, or --stop-signal's, and inspect shows them", async () => {
      detach('sig1', [], trap('USR1'));
      detach('sig2', ['--stop-signal', 'SIGUSR2', '--stop-timeout', '30'], trap('USR2'));
      try {
        expect(await ready('sig1')).toBe(true);
        expect(await ready('sig2')).toBe(true);
        expect(inspect('sig1').Config.StopSignal).toBe('SIGUSR1');
        expect(inspect('sig2').Config).toMatchObject({ StopSignal: 'SIGUSR2', StopTimeout: 30 });
        expect(tcr(['stop', 'sig1', 'sig2'])).toMatchObject({ status: 0, stdout: 'sig1\nsig2\n' });
        expect(tcr(['logs', 'sig1']).stdout).toBe('ready\ngot USR1\n');
        expect(tcr(['logs', 'sig2']).stdout).toBe('ready\ngot USR2\n');
      } finally {
        tcr(['rm', '-f', 'sig1', 'sig2']);
      }
    });

    it('--stop-timeout 0: SIGKILL at once for a command that ignores the signal (docker waits 10 s by default)', () => {
      detach('deaf', ['--stop-timeout', '0'], ['sleep', '300']);
      try {
        const t0 = Date.now();
        expect(tcr(['stop', 'deaf'])).toMatchObject({ status: 0, stdout: 'deaf\n' });
        expect(Date.now() - t0).toBeLessThan(9000);
        expect(running('deaf')).toBe(false);
      } finally {
        tcr(['rm', '-f', 'deaf']);
      }
    });
  });

  it('--label and --label-file over the image labels: Config.Labels', () => {
    const file = path.join(sb.dir, 'labels');
    fs.writeFileSync(file, '# a comment\na=file\nc=file\n');
    detach('labelled', ['--label', 'b=flag', '-l', 'bare', '--label-file', file], ['true']);
    try {
      expect(inspect('labelled').Config.Labels).toEqual({ a: 'file', b: 'flag', c: 'file', bare: '' });
    } finally {
      tcr(['rm', '-f', 'labelled']);
    }
  });

  it('--cidfile: written with the id; an existing file is refused and nothing is made', () => {
    const cid = path.join(sb.dir, 'cid');
    detach('withcid', ['--cidfile', cid], ['sleep', '300']);
    try {
      expect(fs.readFileSync(cid, 'utf8')).toBe('withcid');
      const r = tcr(['run', '--rm', '--network', 'none', '--name', 'second', '--cidfile', cid, 'img', 'true']);
      expect(r).toMatchObject({
        status: 125,
        stderr: `tcr: --cidfile: ${cid} exists: make sure its container is not running, or remove the file\n`,
      });
      expect(containers()).toEqual(['withcid']);
      expect(fs.readFileSync(cid, 'utf8')).toBe('withcid');
    } finally {
      tcr(['rm', '-f', 'withcid']);
    }
    // a run whose container could not be made takes its cidfile back
    const bad = path.join(sb.dir, 'cid2');
    expect(tcr(['run', '--rm', '--network', 'none', '--cidfile', bad, 'img', 'no-such-command']).status).toBe(127);
    expect(fs.existsSync(bad)).toBe(false);
  });

  it("docker's NAME=BOOL forms of boolean flags: --rm=false keeps, --rm=true removes, -t=false, --privileged=1", () => {
    expect(tcr(['run', '--rm=false', '-t=false', '--network', 'none', '--name', 'keptbool', 'img', 'echo', 'kept'])).toMatchObject({
      status: 0,
      stdout: 'kept\n',
    });
    expect(containers()).toEqual(['keptbool']);
    expect(tcr(['rm', 'keptbool']).status).toBe(0);
    expect(tcr(['run', '--rm=true', '--network', 'none', 'img', 'true']).status).toBe(0);
    expect(tcr(['run', '--rm', '--privileged=1', '--network', 'none', 'img', 'grep', '^Seccomp:', '/proc/self/status']).stdout).toMatch(
      /\t0\n$/,
    );
    expect(containers()).toEqual([]);
    expect(tcr(['run', '--rm=maybe', 'img', 'true'])).toMatchObject({
      status: 125,
      stderr: 'tcr: --rm: "maybe" is not a boolean (true or false)\n',
    });
  });

  it("tcr exec -u NAME[:GROUP]: looked up in the container's own /etc/passwd and /etc/group", () => {
    detach('execu', [], ['sleep', '300']);
    try {
      expect(tcr(['exec', '-u', 'app', 'execu', 'sh', '-c', 'id -u; id -g; id -G'])).toMatchObject({
        status: 0,
        stdout: '1000\n1000\n1000 29\n',
      });
      expect(tcr(['exec', '-u', 'app:wheel', 'execu', 'id', '-g']).stdout).toBe('10\n');
      expect(tcr(['exec', '-u', '1000:29', 'execu', 'id', '-g']).stdout).toBe('29\n');
      const r = tcr(['exec', '-u', 'nosuch', 'execu', 'id']);
      expect(r.stderr).toMatch(/user "nosuch": no such user/);
      expect(r.status).not.toBe(0);
    } finally {
      tcr(['rm', '-f', 'execu']);
    }
  });

  it('--pull never: a missing image is refused', () => {
    expect(tcr(['run', '--rm', '--pull', 'never', 'no-such-image', 'true'])).toMatchObject({
      status: 125,
      stderr: expect.stringMatching(/no-such-image is not in the image store .*--pull=never/),
    });
  });
});
