// A container's exit status, kept beside its state record once a tcr process
// that waited for the init saw it (a foreground `run` that keeps the
// container). The init of a detached container is no child of any tcr
// process once `run -d` returns, and only a parent can read a status, so
// such a container has none: `wait` and `inspect` say so.
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from './state-store.js';

export interface ExitRecord {
  /** the shell's status: the code, or 128+N for signal N */
  code: number;
  finishedAt: string;
}

const FILE = 'exit.json';

export function writeExitRecord(stateDir: string, code: number): void {
  writeFileAtomic(path.join(stateDir, FILE), JSON.stringify({ code, finishedAt: new Date().toISOString() }));
}

/** Undefined when no tcr process saw the exit (or the container never exited). */
export function readExitRecord(stateDir: string): ExitRecord | undefined {
  try {
    const r = JSON.parse(fs.readFileSync(path.join(stateDir, FILE), 'utf8')) as ExitRecord;
    return typeof r.code === 'number' ? r : undefined;
  } catch {
    return undefined;
  }
}
