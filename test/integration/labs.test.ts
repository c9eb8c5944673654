// tcr lab: each lab runs on the real kernel, its numbers agree with what the
// kernel and the plan say, its pictures are well-formed SVG, and the report
// (and the anatomy picture) render in headless Chromium with their steps.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { XMLValidator } from 'fast-xml-parser';
import { afterAll, describe, expect, it } from 'vitest';
import { Sandbox, isRoot, lacks, pidsWithRootUnder } from '../helpers.js';
import { uniqueId } from './lib.js';
import type { TraceData } from '../../src/container/trace-record.js';

/** Debian's chromium (/usr/bin/chromium), which scripts/setup.sh installs; another system's name for it where that is absent. */
const CHROMIUM = ['/usr/bin/chromium', 'chromium', 'chromium-browser'].find(
  (c) => spawnSync(c, ['--version'], { stdio: 'ignore' }).status === 0,
);

/** Headless Chromium; as root it runs only without its sandbox, and with a profile of its own so that no other Chromium's lock stops it. */
function chromium(args: string[], profile: string): string {
  const flags = ['--headless', '--no-sandbox', '--disable-gpu', `--user-data-dir=${profile}`];
  const r = spawnSync(CHROMIUM!, [...flags, ...args], { encoding: 'utf8', timeout: 120_000 });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

const spanCount = (svg: string): number => svg.match(/<g class="span"/g)?.length ?? 0;

describe.skipIf(lacks(isRoot))('tcr lab (root, real kernel)', () => {
  const sb = new Sandbox('tcr-labs');
  afterAll(() => sb.cleanup());
  const lab = (args: string[]) => sb.tcr(['lab', ...args], { timeout: 600_000 });

  it('lists the labs; an unknown one, or all without --report, is refused by name', () => {
    const list = lab(['list']);
    expect(list.status).toBe(0);
    expect(list.stdout).toMatch(/^anatomy +Anatomy/m);
    expect(list.stdout).toMatch(/^isolation +Isolation/m);
    const unknown = lab(['nosuch']);
    expect(unknown.status).not.toBe(0);
    expect(unknown.stderr).toContain('lab "nosuch": no such lab');
    const all = lab(['all']);
    expect(all.status).not.toBe(0);
    expect(all.stderr).toContain('--report DIR is required');
  });

  it('--trace=FILE.json keeps a span for every step the plan has but the exec, and FILE.svg draws them', () => {
    const bundle = sb.bundle('trace', (s) => (s.process!.args = ['true']));
    const plan = sb.tcr(['run', '--dry-run', '--bundle', bundle, uniqueId('dry')]);
    expect(plan.status, plan.stderr).toBe(0);
    // the dry run shows create's plan: a run's has no wait on the exec fifo
    const planSteps = plan.stdout.split('\n').filter((l) => /^ {0,2}\d+ {2}\S/.test(l) && !l.includes('wait on the exec fifo')).length;
    const json = path.join(sb.dir, 'trace.json');
    const svg = path.join(sb.dir, 'trace.svg');
    expect(sb.tcr(['run', `--trace=${json}`, '--bundle', bundle, uniqueId('tj')]).status).toBe(0);
    expect(sb.tcr(['run', `--trace=${svg}`, '--bundle', bundle, uniqueId('ts')]).status).toBe(0);
    const data = JSON.parse(fs.readFileSync(json, 'utf8')) as TraceData;
    expect(data.planSteps).toBe(planSteps);
    const steps = new Set(data.spans.filter((s) => s.step !== undefined).map((s) => s.step));
    expect(steps.size).toBe(planSteps - 1);
    expect(data.spans.every((s) => s.end >= s.start)).toBe(true);
    const picture = fs.readFileSync(svg, 'utf8');
    expect(XMLValidator.validate(picture)).toBe(true);
    expect(picture).toContain(`${planSteps - 1} of the plan&apos;s ${planSteps} steps reported`);
    // --trace without a value still prints text; a file of another kind is refused before anything is made
    const text = sb.tcr(['run', '--trace', '--bundle', bundle, uniqueId('tt')]);
    expect(text.stderr).toMatch(/pid 1 step +\d+ mount proc on \/proc: ok/);
    const bad = sb.tcr(['run', '--trace=x.png', '--bundle', bundle, uniqueId('tb')]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('--trace=x.png: the file');
  });

  it('anatomy: its picture has one bar per reported step plus the runtime and executor spans, and its numbers say so', () => {
    const out = path.join(sb.dir, 'anatomy');
    const r = lab(['anatomy', '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    const planSteps = Number(/its plan had (\d+) steps/.exec(r.stdout)?.[1]);
    const reported = Number(/(\d+) of them reported back/.exec(r.stdout)?.[1]);
    expect(reported).toBe(planSteps - 1);
    const svg = fs.readFileSync(path.join(out, 'timeline.svg'), 'utf8');
    expect(XMLValidator.validate(svg)).toBe(true);
    // the init's steps, the runtime's own three (bundle, cgroup, plan), its two sync answers (no hooks) and the executor's spawn
    expect(spanCount(svg)).toBe(reported + 3 + 2 + 1);
    for (const kind of ['namespaces', 'mounts', 'cgroups', 'credentials', 'seccomp', 'exec']) expect(svg).toContain(`data-kind="${kind}"`);
    // a PNG beside it, converted by rsvg-convert (scripts/setup.sh installs it): the picture's own signature and size
    const png = fs.readFileSync(path.join(out, 'timeline.png'));
    expect(png.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
    expect(png.readUInt32BE(16)).toBeGreaterThan(100);
    expect(pidsWithRootUnder(sb.dir)).toEqual([]);
  });

  it("isolation: the container's shell is pid 1, every namespace differs from the host's, the kernel is the host's", () => {
    const queues = () => fs.readFileSync('/proc/sysvipc/msg', 'utf8').trim().split('\n').length - 1;
    const before = queues();
    const out = path.join(sb.dir, 'isolation');
    const r = lab(['isolation', '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('7 of 7 namespaces differ');
    expect(r.stdout).toContain('the shell is pid 1 ');
    expect(r.stdout).toContain(`uname -r says ${os.release()} inside and ${os.release()} on the host`);
    expect(r.stdout).toMatch(/1 network interface \(lo\)/);
    const svg = fs.readFileSync(path.join(out, 'namespaces.svg'), 'utf8');
    expect(XMLValidator.validate(svg)).toBe(true);
    for (const ns of ['pid', 'uts', 'mnt', 'net', 'user', 'ipc', 'cgroup'])
      expect(svg).toContain(`${ns}:[${fs.readlinkSync(`/proc/self/ns/${ns}`).match(/\d+/)![0]}]`);
    expect(svg).toContain('lab-container');
    expect(r.stdout).toMatch(/0 System V queues against the host's [1-9]/); // the lab's own queue, seen only outside
    expect(queues()).toBe(before); // and removed
  });

  it.skipIf(!CHROMIUM)(
    'all --report: an offline HTML report that Chromium renders with every lab and its steps',
    () => {
      const dir = path.join(sb.dir, 'report');
      const r = lab(['all', '--report', dir]);
      expect(r.status, r.stderr).toBe(0);
      const html = fs.readFileSync(path.join(dir, 'index.html'), 'utf8');
      expect(html).not.toMatch(/(src|href)="(https?:)?\/\//); // nothing fetched from elsewhere
      const profile = path.join(sb.dir, 'chromium-profile');
      const dom = chromium(['--dump-dom', `file://${path.join(dir, 'index.html')}`], profile);
      expect(dom).toContain('Anatomy of a container');
      expect(dom).toContain('pivot_root');
      expect(dom).toContain('seccomp filter');
      expect(dom).toContain('What each namespace hides');
      // the measuring labs are in it too
      for (const name of ['vm-vs-container', 'fractional-cpu', 'memory-limit', 'soa']) expect(html).toContain(name);
      expect(dom).toContain('Pencils per second');
      expect(fs.existsSync(path.join(dir, 'anatomy-timeline.svg'))).toBe(true);
      const anatomy = chromium(['--dump-dom', `file://${path.join(dir, 'anatomy-timeline.svg')}`], profile);
      expect(anatomy).toContain('mount proc on /proc');
      const png = path.join(sb.dir, 'report.png');
      chromium([`--screenshot=${png}`, '--window-size=1200,1600', `file://${path.join(dir, 'index.html')}`], profile);
      expect(fs.statSync(png).size).toBeGreaterThan(10_000);
      // every lab runs: the VM's boot, the CPU lab's window and the pencil factory's runs are minutes on a loaded machine
    },
    600_000,
  );
});
