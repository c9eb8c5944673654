// The measuring labs (fractional-cpu, memory-limit, vm-vs-container, soa) run
// on this machine with short windows: each finishes, its figures agree with
// the kernel's own counters, its SVG pictures are well-formed XML, and it
// leaves no container, VM or cgroup behind, also when it fails.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO, TCR, isRoot, lacks } from '../helpers.js';
import type { LabContext, LabResult, TcrOutput } from '../../src/labs/lab.js';
import { numberOf } from '../../src/labs/lab.js';
import { fractionalCpuLab } from '../../src/labs/fractional-cpu.js';
import { memoryLimitLab } from '../../src/labs/memory-limit.js';
import { vmVsContainerLab } from '../../src/labs/vm-vs-container.js';

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'tcr-labs-measure-'));

function tcr(args: string[], o: { input?: string; timeoutMs?: number } = {}): Promise<TcrOutput> {
  return new Promise((resolve) => {
    const child = spawn(TCR, args, { stdio: ['pipe', 'pipe', 'pipe'], timeout: o.timeoutMs ?? 120_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ stdout, stderr, status: code ?? 128 }));
    child.stdin.end(o.input ?? '');
  });
}

const ctx: LabContext = { scratch, tcr, progress: () => {}, busyboxRootfs: path.join(REPO, 'demo', 'busybox', 'rootfs') };

/** Containers (lab-ROLE-TAG, tcr-lab-TAG-ROLE) and parent cgroups (tcr-lab-TAG) this file's labs made: none may be left. */
async function leftovers(): Promise<string[]> {
  const mine = process.pid.toString(36);
  const ps = await tcr(['ps', '-a', '--format', '{{.Names}}']);
  const list = await tcr(['list', '-q']);
  const names = [...ps.stdout.split('\n'), ...list.stdout.split('\n')].filter((n) => /^(tcr-)?lab-/.test(n) && n.includes(mine));
  const cgroups = fs
    .readdirSync('/sys/fs/cgroup')
    .flatMap((h) => (fs.existsSync(`/sys/fs/cgroup/${h}/tcr-lab-${mine}`) ? [h] : []))
    .concat(fs.readdirSync('/sys/fs/cgroup').filter((e) => e.startsWith(`tcr-lab-${mine}`)));
  return [...names, ...cgroups];
}

function expectWellFormedSvg(r: LabResult): void {
  if (process.env.LABS_VERBOSE === '1') console.log(r.text);
  expect(r.figures.length).toBeGreaterThan(0);
  for (const f of r.figures) {
    // Python's expat parser (the test needs no XML library of its own): the root must be an <svg>
    const p = spawnSync(
      'python3',
      ['-c', 'import sys, xml.dom.minidom as m; print(m.parseString(sys.stdin.buffer.read()).documentElement.tagName)'],
      {
        input: f.svg,
        encoding: 'utf8',
      },
    );
    expect(p.stderr, f.name).toBe('');
    expect(p.stdout.trim(), f.name).toBe('svg');
  }
}

const num = (r: LabResult, name: string): number => Number(numberOf(r, name));

describe.skipIf(lacks(isRoot))('measuring labs', () => {
  afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

  it('fractional-cpu: a 0.5-CPU cap holds, weights divide one CPU', async () => {
    const r = await fractionalCpuLab({ windowMs: 6000 }).run(ctx);
    expectWellFormedSvg(r);
    // never above a cap (the cgroup's CPU time over wall time, 10% slack for the sampling edges)
    expect(num(r, 'cpus-0.25')).toBeLessThanOrEqual(0.3);
    expect(num(r, 'cpus-0.5')).toBeLessThanOrEqual(0.6);
    expect(num(r, 'cpus-1')).toBeLessThanOrEqual(1.1);
    // the lower bound only where the kernel says the quota, not the machine's load, was the limit:
    // a period whose quota ran out gave the container its whole 50 ms
    const throttled = num(r, 'throttled-0.5');
    expect(num(r, 'cpus-0.5')).toBeGreaterThanOrEqual(0.5 * throttled * 0.8);
    if (throttled >= 0.8) expect(num(r, 'cpus-0.5')).toBeGreaterThanOrEqual(0.4);
    // on one contended CPU the heavier tenant gets more; each at most the one CPU they share
    expect(num(r, 'shares-1024')).toBeGreaterThan(num(r, 'shares-512') * 1.2);
    expect(num(r, 'shares-512') + num(r, 'shares-1024')).toBeLessThanOrEqual(1.1);
    expect(r.text).toContain(`got ${String(Number(num(r, 'cpus-0.5').toPrecision(3)))} CPU`);
    expect(await leftovers()).toEqual([]);
  }, 90_000);

  it('memory-limit: the OOM kill is in the cgroup, the curve stays under the limit', async () => {
    const r = await memoryLimitLab({ limitMiB: 24 }).run(ctx);
    expectWellFormedSvg(r);
    const limit = num(r, 'limit');
    expect(limit).toBe(24 * 1024 * 1024);
    expect(num(r, 'oom-kills')).toBeGreaterThanOrEqual(1);
    expect(num(r, 'grower-status')).toBe(137);
    expect(num(r, 'sampled-peak')).toBeLessThanOrEqual(limit);
    // the kernel's high-water mark is at least what was sampled, and near the limit: it was hit
    expect(num(r, 'kernel-peak')).toBeGreaterThanOrEqual(num(r, 'sampled-peak'));
    expect(num(r, 'kernel-peak')).toBeGreaterThan(limit * 0.8);
    expect(num(r, 'samples')).toBeGreaterThan(5);
    expect(await leftovers()).toEqual([]);
  }, 60_000);

  it.skipIf(lacks(fs.existsSync('/usr/bin/qemu-system-x86_64')))(
    'vm-vs-container: both ran the command; the VM boots a kernel first',
    async () => {
      const r = await vmVsContainerLab({ vmBoots: 1, containerRuns: 3, vmTimeoutMs: 50_000 }).run(ctx);
      expectWellFormedSvg(r);
      expect(['kvm', 'tcg']).toContain(numberOf(r, 'accelerator'));
      expect(r.text).toContain(numberOf(r, 'accelerator') === 'kvm' ? 'with KVM' : 'with TCG');
      expect(num(r, 'vm-to-command-seconds')).toBeLessThanOrEqual(num(r, 'vm-seconds'));
      expect(num(r, 'ratio')).toBeCloseTo(num(r, 'vm-seconds') / num(r, 'container-seconds'), 6);
      // no QEMU of this test left running: every child of this process has exited
      const children = fs.readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, 'utf8').trim();
      for (const pid of children.split(' ').filter(Boolean)) expect(fs.readFileSync(`/proc/${pid}/comm`, 'utf8')).not.toMatch(/qemu/);
      expect(await leftovers()).toEqual([]);
    },
    90_000,
  );
});
