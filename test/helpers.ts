// Shared test scaffolding: bundles made from the demo busybox rootfs, a
// private --root per test file, and cleanup that runs even when a test fails.
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Spec } from '../src/spec/types.js';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const TCR = path.join(REPO, 'bin', 'tcr');
export const DEMO = path.join(REPO, 'demo', 'busybox');
export const isRoot = process.getuid?.() === 0;

/**
 * `npm test` runs as root after scripts/setup.sh has installed every tool,
 * and sets TCR_STRICT=1: there a missing prerequisite (root, podman, the
 * addon, a registry) fails the tests that need it instead of skipping them,
 * so a green run means they ran. Run alone (a laptop, `vitest run test/unit`),
 * such tests skip.
 */
export const STRICT = process.env.TCR_STRICT === '1';

/** For describe.skipIf: true (skip) when `have` is falsy, except under TCR_STRICT. */
export function lacks(have: unknown): boolean {
  return !have && !STRICT;
}

export interface Result {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A scratch area for one test file: a state root and bundles, removed by cleanup(). */
export class Sandbox {
  readonly dir: string;
  readonly root: string;

  constructor(name = 'tcr-test') {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `${name}-`));
    this.root = path.join(this.dir, 'state');
  }

  /** Runs the tcr CLI with this sandbox's --root. */
  tcr(args: string[], opts: SpawnSyncOptions = {}): Result {
    const r = spawnSync(TCR, ['--root', this.root, ...args], { encoding: 'utf8', timeout: 30_000, ...opts });
    return { status: r.status, signal: r.signal, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
  }

  /** A bundle with its own copy of the busybox rootfs and the demo config changed by `edit`. */
  bundle(name: string, edit: (spec: Spec) => void = () => {}): string {
    const dir = path.join(this.dir, name);
    fs.mkdirSync(dir, { recursive: true });
    spawnSync('cp', ['-a', path.join(DEMO, 'rootfs'), path.join(dir, 'rootfs')]);
    const spec = JSON.parse(fs.readFileSync(path.join(DEMO, 'config.json'), 'utf8')) as Spec;
    edit(spec);
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(spec, null, 2));
    return dir;
  }

  /** Runs `sh -c script` in a fresh container and returns what it printed. */
  run(script: string, edit: (spec: Spec) => void = () => {}, extra: string[] = []): Result {
    const id = `t${Date.now().toString(36)}${Math.floor(Math.random() * 1e6)}`;
    const b = this.bundle(id, (s) => {
      s.process!.args = ['sh', '-c', script];
      edit(s);
    });
    return this.tcr(['run', '--bundle', b, ...extra, id]);
  }

  /** Force-deletes every container of this sandbox and removes its files. */
  cleanup(): void {
    if (fs.existsSync(this.root)) {
      for (const id of fs.readdirSync(this.root)) if (!id.startsWith('.')) this.tcr(['delete', '--force', id]);
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Mount points below `dir` still present in the host's mount table. */
export function mountsUnder(dir: string): string[] {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m) => m && m.startsWith(dir));
}

/** Processes whose root is not the host's: something still lives in a container. */
export function pidsWithRootUnder(dir: string): number[] {
  const out: number[] = [];
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (fs.readlinkSync(`/proc/${p}/root`).startsWith(dir)) out.push(Number(p));
    } catch {
      // exited
    }
  }
  return out;
}
