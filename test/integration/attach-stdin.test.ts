// stdin and terminals of detached image containers: `run -di` and `create -i`
// + `start -ai` forward stdin through the monitor's attach socket
// (src/run/attach-socket.ts, attach-client.ts), `run -dit` keeps a pty that
// `attach` proxies from a terminal of our own (pty-drive.py), with docker's
// detach keys and window size. Compared with `podman --runtime runc`: an
// attach's end of input closes the container's stdin, as podman's does.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, Sandbox, TCR, isRoot, lacks } from '../helpers.js';
import { spawnTcr, waitFor } from './lib.js';

const OCI = path.join(REPO, 'demo', 'busybox-oci');
const DRIVE = path.join(REPO, 'test', 'integration', 'pty-drive.py');
const hasPython = spawnSync('python3', ['-c', 'import pty']).status === 0;

type Step = { wait: string } | { send: string } | { resize: [number, number] };

describe.skipIf(lacks(isRoot && fs.existsSync(OCI) && hasPython))('stdin and terminals of detached containers', () => {
  const sb = new Sandbox('tcr-attach');
  const store = path.join(sb.dir, 'store');
  const global = ['--store', store];
  const net = (args: string[]) => (args[0] === 'run' || args[0] === 'create' ? [args[0], '--network', 'none', ...args.slice(1)] : args);
  const tcr = (args: string[], opts = {}) => sb.tcr([...global, ...net(args)], { stdio: ['ignore', 'pipe', 'pipe'], cwd: sb.dir, ...opts });
  const piped = (args: string[], input: string) => sb.tcr([...global, ...args], { input, stdio: ['pipe', 'pipe', 'pipe'], cwd: sb.dir });
  const attach = (args: string[]) => spawnTcr(sb, [...global, ...args], ['pipe', 'pipe', 'pipe']);
  const inspect = (id: string, f: string) => tcr(['inspect', '-f', f, id]).stdout.trim();
  /** how many clients the monitor of `id` has accepted on its attach socket now */
  const clients = (id: string) =>
    spawnSync('ss', ['-xH'], { encoding: 'utf8' })
      .stdout.split('\n')
      .filter((l) => l.includes(path.join(store, 'containers', id, 'attach.sock'))).length;
  const containers = () => (fs.existsSync(path.join(store, 'containers')) ? fs.readdirSync(path.join(store, 'containers')) : []);
  /** `tcr ARGS` on a pty of its own, typed into as `steps` say */
  const onTerminal = (steps: Step[], args: string[]) => {
    const r = spawnSync('python3', [DRIVE, JSON.stringify(steps), TCR, '--root', sb.root, ...global, ...args], {
      encoding: 'utf8',
      timeout: 90_000,
    });
    expect(r.status, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as { output: string; status: number | null; failed: Step | null };
  };

  beforeAll(() => {
    expect(tcr(['import', '-q', OCI, 'busybox']).status).toBe(0);
  });
  afterAll(() => {
    for (const id of containers()) tcr(['rm', '-f', id]);
    sb.cleanup();
  });

  it('run -di keeps stdin open: attach types into it, every client sees the output, the end of input closes it', async () => {
    expect(tcr(['run', '-di', '--name', 'cat1', 'busybox', 'cat']).status).toBe(0);
    // the container holds its three stdio fds and nothing of the monitor's
    expect(tcr(['exec', 'cat1', 'ls', '/proc/1/fd']).stdout.split(/\s+/).filter(Boolean)).toEqual(['0', '1', '2']);
    const first = attach(['attach', 'cat1']);
    const second = attach(['attach', '--no-stdin', 'cat1']);
    let out1 = '';
    let out2 = '';
    first.child.stdout!.on('data', (d) => (out1 += d));
    second.child.stdout!.on('data', (d) => (out2 += d));
    await waitFor(() => clients('cat1') === 2, 20_000, 'both attaches');
    first.child.stdin!.write('one\n');
    await waitFor(() => out1.includes('one\n') && out2.includes('one\n'), 20_000, 'the first line on both clients');
    // a client that goes away does not take the container with it
    second.child.kill('SIGKILL');
    await second.done;
    first.child.stdin!.write('two\n');
    await waitFor(() => out1.includes('two\n'), 20_000, 'the second line');
    expect(inspect('cat1', '{{.State.Status}}')).toBe('running');
    first.child.stdin!.end();
    const r = await first.done;
    expect([r.status, r.stderr]).toEqual([0, '']);
    expect(inspect('cat1', '{{.State.Status}} {{.State.ExitCode}}')).toBe('exited 0');
    expect(tcr(['logs', 'cat1']).stdout).toBe('one\ntwo\n');
    // the socket went with the launch
    expect(fs.existsSync(path.join(store, 'containers', 'cat1', 'attach.sock'))).toBe(false);
    const stopped = tcr(['attach', 'cat1']);
    expect([stopped.status, stopped.stderr]).toEqual([125, expect.stringMatching(/cannot attach to a stopped container/)]);
    expect(tcr(['rm', 'cat1']).status).toBe(0);
  });

  it('a client that stops reading is let go and told why; one only paused keeps it all; the container never waits', async () => {
    // 6 MB in 60 bursts, then quiet for 7 s, then a last line: by then the stopped client is 4 MB behind and has
    // read nothing for more than 5 s, so it is dropped; the paused one read again after 2 s and keeps up
    const script =
      'read x; i=0; while [ $i -lt 60 ]; do head -c 100000 /dev/zero | tr "\\0" a; sleep 0.02; i=$((i+1)); done; echo; sleep 7; echo after';
    expect(tcr(['run', '-di', '--name', 'flood', 'busybox', 'sh', '-c', script]).status).toBe(0);
    const stalled = attach(['attach', '--no-stdin', 'flood']);
    const paused = attach(['attach', '--no-stdin', 'flood']);
    const reader = attach(['attach', 'flood']);
    const outs = [stalled, paused, reader].map((c) => {
      const o = { text: '' };
      c.child.stdout!.on('data', (d) => (o.text += d));
      return o;
    });
    await waitFor(() => clients('flood') === 3, 20_000, 'three attaches');
    stalled.child.kill('SIGSTOP');
    paused.child.kill('SIGSTOP');
    reader.child.stdin!.end('go\n');
    setTimeout(() => paused.child.kill('SIGCONT'), 2000);
    const all = 'a'.repeat(6_000_000) + '\nafter\n';
    const r = await reader.done;
    expect([r.status, outs[2].text.length, outs[2].text === all]).toEqual([0, all.length, true]); // not toBe: 6 MB in a diff
    const p = await paused.done;
    expect([p.status, p.stderr, outs[1].text === all]).toEqual([0, '', true]);
    // the container ran on and exited while the stopped client still read nothing
    expect(inspect('flood', '{{.State.Status}} {{.State.ExitCode}}')).toBe('exited 0');
    stalled.child.kill('SIGCONT');
    const s = await stalled.done;
    expect(s.stderr).toMatch(
      /attach: the container's monitor stopped sending this client its output: it left \d+ MiB of output unread and read nothing for \d+ s; the container did not wait for it\. tcr logs flood has all of it/,
    );
    expect(s.status).toBe(125);
    // what it got is the output up to the drop, in order
    expect(all.startsWith(outs[0].text) && !outs[0].text.includes('after')).toBe(true);
    expect(tcr(['rm', 'flood']).status).toBe(0);
  });

  it('attach keeps stdout and stderr apart, and returns the exit status', () => {
    const script = 'while read l; do echo out $l; echo err $l >&2; done; exit 4';
    expect(tcr(['run', '-di', '--name', 'split', 'busybox', 'sh', '-c', script]).status).toBe(0);
    const r = piped(['attach', 'split'], 'x\ny\n');
    expect([r.status, r.stdout, r.stderr]).toEqual([4, 'out x\nout y\n', 'err x\nerr y\n']);
    expect(tcr(['rm', 'split']).status).toBe(0);
  });

  it('create -i and start -ai: piped stdin reaches the process; without -i it gets none, as podman', () => {
    expect(tcr(['create', '-i', '--name', 'ask', 'busybox', 'sh', '-c', 'read x; echo got $x; exit 3']).status).toBe(0);
    const r = piped(['start', '-ai', 'ask'], 'hello\n');
    expect([r.status, r.stdout, r.stderr]).toEqual([3, 'got hello\n', '']);
    expect(tcr(['create', '--name', 'deaf', 'busybox', 'sh', '-c', 'read x; echo got $x']).status).toBe(0);
    const deaf = piped(['start', '-ai', 'deaf'], 'hello\n');
    expect([deaf.status, deaf.stdout]).toEqual([0, 'got\n']);
    expect(tcr(['rm', 'ask', 'deaf']).status).toBe(0);
  });

  it('run -dit: attach from a terminal types into the pty, passes its size, detaches with ctrl-p ctrl-q', () => {
    expect(tcr(['run', '-dit', '--name', 'term', 'busybox', 'sh']).status).toBe(0);
    const r = onTerminal(
      [
        { send: 'echo hi$((6*7))\r' },
        { wait: 'hi42' },
        { resize: [31, 101] },
        { send: 'stty size\r' },
        { wait: '31 101' },
        { send: '\x10\x11' },
      ],
      ['attach', 'term'],
    );
    expect([r.failed, r.status]).toEqual([null, 0]);
    expect(inspect('term', '{{.State.Status}}')).toBe('running');
    // the log is what the terminal printed, as stdout
    const logs = tcr(['logs', 'term']);
    expect([logs.stdout, logs.stderr]).toEqual([expect.stringContaining('hi42\r\n'), '']);
    // attached again, by a pipe: no terminal needed, and the exit status comes back
    const piping = piped(['attach', 'term'], 'echo piped\nexit 3\n');
    expect([piping.status, piping.stdout]).toEqual([3, expect.stringContaining('piped\r\n')]);
    expect(tcr(['rm', 'term']).status).toBe(0);
  });

  it('create -it and start -ai give the terminal from the first byte; --detach-keys picks other keys', () => {
    expect(tcr(['create', '-it', '--name', 'term2', 'busybox', 'sh', '-c', 'stty size; exec sh']).status).toBe(0);
    const r = onTerminal(
      [{ wait: '24 80' }, { send: 'tty\r' }, { wait: '/dev/pts/0' }, { send: '\x01' }],
      ['start', '-ai', '--detach-keys', 'ctrl-a', 'term2'],
    );
    expect([r.failed, r.status], r.output).toEqual([null, 0]);
    expect(inspect('term2', '{{.State.Status}}')).toBe('running');
    const bad = tcr(['attach', '--detach-keys', 'ctrl-1', 'term2']);
    expect([bad.status, bad.stderr]).toEqual([125, expect.stringMatching(/--detach-keys "ctrl-1"/)]);
    // a terminal container too holds its pty and nothing else
    expect(tcr(['run', '-dit', '--name', 'ttyfd', 'busybox', 'cat']).status).toBe(0);
    expect(tcr(['exec', 'ttyfd', 'ls', '/proc/1/fd']).stdout.split(/\s+/).filter(Boolean)).toEqual(['0', '1', '2']);
    expect(tcr(['rm', '-f', 'term2', 'ttyfd']).status).toBe(0);
    expect(containers()).toEqual([]);
  });

  it('attach passes the signals it gets to the container; with --sig-proxy=false it keeps them', async () => {
    const script = 'trap "echo got TERM; exit 7" TERM; echo ready; while true; do sleep 0.1; done';
    expect(tcr(['run', '-di', '--name', 'sig', 'busybox', 'sh', '-c', script]).status).toBe(0);
    await waitFor(() => tcr(['logs', 'sig']).stdout === 'ready\n', 20_000, 'the trap');
    const keep = attach(['attach', '--sig-proxy=false', 'sig']);
    await waitFor(() => clients('sig') === 1, 20_000, 'the attach');
    await new Promise((r) => setTimeout(r, 500)); // its handlers are in before it connects; this is for the kernel's accounting
    keep.child.kill('SIGTERM');
    expect((await keep.done).signal).toBe('SIGTERM');
    expect(inspect('sig', '{{.State.Status}}')).toBe('running');
    const proxy = attach(['attach', 'sig']);
    let out = '';
    proxy.child.stdout!.on('data', (d) => (out += d));
    await waitFor(() => clients('sig') === 1, 20_000, 'the attach');
    proxy.child.kill('SIGTERM');
    await waitFor(() => out.includes('got TERM'), 20_000, 'the forwarded SIGTERM');
    const r = await proxy.done;
    expect([r.status, r.stdout]).toEqual([7, 'got TERM\n']);
    expect(tcr(['rm', 'sig']).status).toBe(0);
  });
});
