// docker's `top` (the host's ps cut to a container's processes, in docker's
// 20-wide columns) and `stats --no-stream` (CPU %, memory against the
// cgroup's limit, network and block I/O, pids) on real containers.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, Sandbox, TCR, isRoot, lacks } from '../helpers.js';

const OCI = path.join(REPO, 'demo', 'busybox-oci');

describe.skipIf(lacks(isRoot && fs.existsSync(OCI)))('tcr top, tcr stats', { timeout: 120_000 }, () => {
  const sb = new Sandbox('tcr-stats');
  const store = path.join(sb.dir, 'store');
  const tcr = (args: string[]) => sb.tcr(['--store', store, ...args]);
  const lines = (text: string) => text.split('\n').filter(Boolean);
  beforeAll(() => {
    expect(tcr(['import', '-q', OCI, 'busybox']).status).toBe(0);
    const two = tcr([
      'run',
      '-d',
      '--network',
      'none',
      '--name',
      'two',
      '-m',
      '64m',
      'busybox',
      'sh',
      '-c',
      'sleep 1000 & exec sleep 2000',
    ]);
    expect([two.status, two.stderr]).toEqual([0, '']);
    const busy = tcr(['run', '-d', '--network', 'none', '--name', 'busy', 'busybox', 'sh', '-c', 'while :; do :; done']);
    expect(busy.status).toBe(0);
    expect(tcr(['run', '--network', 'none', '--name', 'done', 'busybox', 'true']).status).toBe(0);
  });
  afterAll(() => {
    for (const id of fs.existsSync(sb.root) ? fs.readdirSync(sb.root).filter((i) => !i.startsWith('.')) : []) tcr(['rm', '-f', id]);
    sb.cleanup();
  });

  it("top: ps -ef's columns for the container's processes only, at least 20 wide", async () => {
    // the background sleep is started by the shell just before its exec
    let t = tcr(['top', 'two']);
    for (let i = 0; i < 50 && lines(t.stdout).length < 3; i++) {
      await new Promise((r) => setTimeout(r, 100));
      t = tcr(['top', 'two']);
    }
    expect([t.status, t.stderr]).toEqual([0, '']);
    const [header, ...rows] = lines(t.stdout);
    expect(header).toBe(['UID', 'PID', 'PPID', 'C', 'STIME', 'TTY', 'TIME'].map((c) => c.padEnd(20)).join('') + 'CMD');
    expect(rows.map((r) => r.slice(140)).sort()).toEqual(['sleep 1000', 'sleep 2000']);
    const init = JSON.parse(tcr(['ps', '--format', 'json', 'two']).stdout) as number[];
    expect(rows.map((r) => Number(r.slice(20, 40))).sort()).toEqual([...init].sort());
    const o = tcr(['top', 'two', '-o', 'pid,args']);
    expect(lines(o.stdout)[0]).toBe(`${'PID'.padEnd(20)}COMMAND`);
    expect(
      lines(o.stdout)
        .slice(1)
        .map((r) => r.slice(20))
        .sort(),
    ).toEqual(['sleep 1000', 'sleep 2000']);
  });

  it('top: a stopped or missing container, or ps output without PID, is refused with 125', () => {
    for (const [args, msg] of [
      [['top', 'done'], 'container done is not running'],
      [['top', 'nosuch'], 'No such container: nosuch'],
      [['top', 'two', '-o', 'user'], 'no PID column'],
    ] as const) {
      const r = tcr([...args]);
      expect([r.status, r.stdout, r.stderr], args.join(' ')).toEqual([125, '', expect.stringContaining(msg)]);
    }
  });

  it("stats --no-stream: docker's columns; memory against the -m limit; CPU % of a busy loop", () => {
    const s = tcr(['stats', '--no-stream']);
    expect([s.status, s.stderr]).toEqual([0, '']);
    const [header, ...rows] = lines(s.stdout);
    expect(header).toMatch(/^CONTAINER ID {3}NAME {6}CPU % {5}MEM USAGE \/ LIMIT +MEM % {5}NET I\/O +BLOCK I\/O +PIDS$/);
    // running containers only
    expect(rows.map((r) => r.split(/\s+/)[0]).sort()).toEqual(['busy', 'two']);
    const j = lines(tcr(['stats', '--no-stream', '--format', 'json', 'two', 'busy']).stdout).map(
      (l) => JSON.parse(l) as Record<string, string>,
    );
    expect(j.map((x) => x.Name)).toEqual(['two', 'busy']);
    const [two, busy] = j;
    expect(two).toEqual({
      BlockIO: expect.stringMatching(/^\d+(\.\d+)?[kMG]?B \/ \d+(\.\d+)?[kMG]?B$/),
      CPUPerc: expect.stringMatching(/^\d+\.\d\d%$/),
      Container: 'two',
      ID: 'two',
      MemPerc: expect.stringMatching(/^\d+\.\d\d%$/),
      MemUsage: expect.stringMatching(/^\d+(\.\d+)?(B|KiB|MiB) \/ 64MiB$/),
      Name: 'two',
      NetIO: '0B / 0B', // --network none: only lo, which docker does not count
      PIDs: '2',
    });
    expect(Number(busy.CPUPerc.slice(0, -1))).toBeGreaterThan(0);
    expect(tcr(['stats', '--no-stream', '-a', '--format', '{{.Name}}: {{.CPUPerc}} {{.MemUsage}} {{.PIDs}}', 'done']).stdout).toBe(
      'done: 0.00% 0B / 0B 0\n',
    );
    const t = tcr(['stats', '--no-stream', '--format', 'table {{.Name}}\\t{{.PIDs}}', 'two']);
    expect(t.stdout).toBe('NAME      PIDS\ntwo       2\n');
    const missing = tcr(['stats', '--no-stream', 'nosuch']);
    expect([missing.status, missing.stderr]).toEqual([125, expect.stringContaining('No such container: nosuch')]);
  });

  it('stats without --no-stream goes on printing tables, as podman does off a terminal too', async () => {
    const child = spawn(TCR, ['--root', sb.root, '--store', store, 'stats', 'two'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => {
          text += d.toString();
          if ((text.match(/^CONTAINER ID/gm) ?? []).length >= 2) resolve();
        });
        child.on('exit', (code) => reject(new Error(`stats exited (${code}): ${text}`)));
      });
    } finally {
      child.kill('SIGKILL');
    }
    expect(text).not.toContain('\x1b['); // no terminal: no screen redraw
    expect(text).toMatch(/^two +two +\d+\.\d\d%/m);
  });
});
