// Reading and writing cgroup files with errors that name the file and value.
import fs from 'node:fs';
import path from 'node:path';
import { TcrError, errnoCode, errorMessage } from '../errors.js';
import os from 'node:os';
import { errnoText } from '../sys/errno.js';
import { sleepMs } from '../sys/time.js';

export function writeCgroupFile(dir: string, file: string, value: string): void {
  const p = path.join(dir, file);
  try {
    fs.writeFileSync(p, value);
  } catch (e) {
    const code = errnoCode(e);
    if (code === 'ENOENT')
      throw new TcrError(`cgroup: ${p} does not exist: the kernel has no such control (value ${JSON.stringify(value)})`);
    const text = code ? errnoText((os.constants.errno as Record<string, number>)[code] ?? 0) : '';
    throw new TcrError(`cgroup: writing ${JSON.stringify(value)} to ${p}: ${code ?? errorMessage(e)}${text ? ` (${text})` : ''}`);
  }
}

export function readCgroupFile(dir: string, file: string): string | undefined {
  try {
    return fs.readFileSync(path.join(dir, file), 'utf8');
  } catch {
    return undefined;
  }
}

export function readNumber(dir: string, file: string): number {
  const t = readCgroupFile(dir, file)?.trim();
  if (t === undefined || t === 'max') return 0;
  const n = Number(t);
  return Number.isFinite(n) ? n : 0;
}

/** "key value" lines (memory.stat, cpu.stat, memory.events) as an object. */
export function readKeyValues(dir: string, file: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of (readCgroupFile(dir, file) ?? '').split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined) out[k] = Number(v);
  }
  return out;
}

export const readSelfCgroup = (): string => fs.readFileSync('/proc/self/cgroup', 'utf8');

export function readPids(dir: string): number[] {
  return (readCgroupFile(dir, 'cgroup.procs') ?? '').split('\n').filter(Boolean).map(Number);
}

export type Rmdir = (dir: string) => void;

/** rmdir with a few retries: a just-killed task may still be leaving the cgroup. */
export function removeCgroupDir(dir: string, rmdir: Rmdir = fs.rmdirSync): void {
  for (let i = 0; ; i++) {
    try {
      rmdir(dir);
      return;
    } catch (e) {
      const code = errnoCode(e);
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY' || i >= 200) throw new TcrError(`cgroup: cannot remove ${dir}: ${code}`);
      sleepMs(5);
    }
  }
}
