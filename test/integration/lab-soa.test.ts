// tcr lab soa on the real kernel: the monolith and the compose services serve
// the same pencils; the counts in the figures are the answers and the lead
// replicas' own logs; the CPU figures are the cgroups' counters; a scaled run
// uses every replica; the pictures are well-formed SVG; and nothing of the
// lab's project is left, also when it is stopped with Ctrl-C half-way.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { XMLValidator } from 'fast-xml-parser';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO, TCR, isRoot, lacks } from '../helpers.js';
import { haveCni } from './network-lib.js';
import type { LabContext, TcrOutput } from '../../src/labs/lab.js';
import { numberOf } from '../../src/labs/lab.js';
import { soaLab } from '../../src/labs/soa.js';

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'tcr-lab-soa-'));
const OCI = path.join(REPO, 'demo', 'busybox-oci');

function tcr(args: string[], o: { input?: string; timeoutMs?: number } = {}): Promise<TcrOutput> {
  return new Promise((resolve) => {
    const child = spawn(TCR, args, { stdio: ['pipe', 'pipe', 'pipe'], timeout: o.timeoutMs ?? 240_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ stdout, stderr, status: code ?? 128 }));
    child.stdin.end(o.input ?? '');
  });
}

const ctx: LabContext = { scratch, tcr, progress: () => {}, busyboxRootfs: path.join(REPO, 'demo', 'busybox', 'rootfs') };

/** Containers and networks whose names carry `mark` (a lab's tag starts with its process's pid in base 36). */
function leftovers(mark: string): string[] {
  const list = (args: string[]) => spawnSync(TCR, args, { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
  return [...list(['ps', '-a', '--format', '{{.Names}}']), ...list(['network', 'ls', '-q'])].filter(
    (n) => n.startsWith('lab-soa-') && n.includes(mark),
  );
}

function removeLeftovers(mark: string): void {
  for (const name of leftovers(mark)) {
    spawnSync(TCR, ['rm', '-f', name], { stdio: 'ignore' });
    spawnSync(TCR, ['network', 'rm', name], { stdio: 'ignore' });
  }
}

describe.skipIf(lacks(isRoot && fs.existsSync(OCI) && haveCni))('tcr lab soa', () => {
  const mine = process.pid.toString(36);
  afterAll(() => {
    removeLeftovers(mine);
    fs.rmSync(scratch, { recursive: true, force: true });
  }, 120_000);

  it('serves the same pencil both ways; counts agree with the replicas, CPU with the cgroups; nothing is left', async () => {
    const leadMs = 500;
    const r = await soaLab({
      sequential: 8,
      requests: 16,
      concurrency: 4,
      leadMs,
      scaledRequests: 12,
      scaledConcurrency: 6,
      replicas: 3,
    }).run(ctx);
    if (process.env.LABS_VERBOSE === '1') console.log(r.text);
    const num = (name: string): number => Number(numberOf(r, name));
    const project = String(numberOf(r, 'project'));
    expect(project).toMatch(new RegExp(`^lab-soa-${mine}`));
    expect(num('failures')).toBe(0);
    expect(r.text).toContain('Every request got a pencil.');

    // every lead the answers name is one a replica's log has, and the other way round: one per request sent
    for (const k of ['lead1', 'lead3']) {
      expect(num(`${k}-answered`), k).toBe(num(`${k}-sent`));
      expect(num(`${k}-logged`), k).toBe(num(`${k}-sent`));
    }
    expect(num('lead1-sent')).toBe(12);
    expect(num('lead1-replicas-used')).toBe(1);
    expect(num('lead3-replicas-used')).toBe(3);
    const spread = [...String(numberOf(r, 'lead3-per-replica')).matchAll(/(\S+): (\d+) \(log (\d+)\)/g)];
    expect(spread.map((m) => m[1]).sort()).toEqual([1, 2, 3].map((n) => `${project}-lead-${n}`));
    for (const [, name, answers, logged] of spread) {
      expect(Number(answers), name).toBeGreaterThan(0);
      expect(answers, name).toBe(logged);
    }

    // a replica's lathe makes one lead at a time: no run is faster than its lathes allow (5% for the clock's edges);
    // three replicas serve more than one
    expect(num('lead1-capacity')).toBe(1000 / leadMs);
    expect(num('lead1-throughput')).toBeLessThanOrEqual(num('lead1-capacity') * 1.05);
    expect(num('lead3-throughput')).toBeLessThanOrEqual(num('lead3-capacity') * 1.05);
    expect(num('lead3-throughput')).toBeGreaterThan(num('lead1-throughput') * 1.2);
    expect(num('scale-speedup')).toBeCloseTo(num('lead3-throughput') / num('lead1-throughput'), 6);

    // the cgroups' CPU time: the services spend more of it per pencil than the monolith (three hops of HTTP and CGI),
    // the total is the sum of the services', and a lead that waits on its lathe uses little of it
    const services = ['gateway', 'assembly', 'lead', 'case'].map((s) => num(`services-cpu-ms-${s}`));
    for (const ms of services) expect(ms).toBeGreaterThan(0);
    expect(num('services-cpu-ms')).toBeCloseTo(
      services.reduce((a, b) => a + b, 0),
      6,
    );
    expect(num('monolith-cpu-ms')).toBeGreaterThan(0);
    expect(num('services-cpu-ms')).toBeGreaterThan(num('monolith-cpu-ms'));
    expect(num('lead-cpu-ms-per-lead')).toBeLessThan(leadMs / 2);
    expect(num('hop-ms')).toBeCloseTo((num('services-latency-ms') - num('monolith-latency-ms')) / 3, 6);
    expect(r.text).toContain(`project ${project}`);

    expect(r.figures.map((f) => f.name)).toEqual(['soa-throughput', 'soa-latency', 'soa-replicas']);
    for (const f of r.figures) {
      expect(XMLValidator.validate(f.svg), f.name).toBe(true);
      expect(f.svg.startsWith('<svg '), f.name).toBe(true);
    }
    expect(r.figures[2].svg).toContain(`lead-3`);
    expect(leftovers(mine)).toEqual([]);
  }, 300_000);

  it('Ctrl-C half-way: the lab removes its monolith and brings its compose project down, then exits 130', async () => {
    // its own process group, as a terminal's Ctrl-C signals the lab and the tcr children it runs
    const child = spawn(process.execPath, [path.join(REPO, 'bin', 'tcr.cjs'), 'lab', 'soa', '--out', path.join(scratch, 'interrupted')], {
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    const mark = child.pid!.toString(36);
    try {
      // once the services run (their gateway has a container), interrupt
      const deadline = Date.now() + 180_000;
      while (!leftovers(mark).some((n) => n.endsWith('-gateway-1')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
      expect(
        leftovers(mark).some((n) => n.endsWith('-gateway-1')),
        stderr,
      ).toBe(true);
      process.kill(-child.pid!, 'SIGINT');
      expect(await exited, stderr).toBe(130);
      expect(leftovers(mark)).toEqual([]);
    } finally {
      if (child.exitCode === null) process.kill(-child.pid!, 'SIGKILL');
      removeLeftovers(mark);
    }
  }, 300_000);
});
