// Signal names and numbers for `kill`, accepting KILL, SIGKILL and 9 alike.
import os from 'node:os';
import { TcrError } from '../errors.js';

// read on first use: node:os loads lazily (scripts/bundle.mjs), and most commands never name a signal
const byName = (): Record<string, number> => os.constants.signals;

export function parseSignal(s: string | undefined): number {
  if (s === undefined || s === '') return byName().SIGTERM;
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    if (n >= 1 && n <= 64) return n;
    throw new TcrError(`invalid signal ${JSON.stringify(s)}: numbers are 1 to 64`);
  }
  const name = s.toUpperCase().startsWith('SIG') ? s.toUpperCase() : `SIG${s.toUpperCase()}`;
  const rt = /^SIGRTMIN(\+(\d+))?$/.exec(name) ?? /^SIGRTMAX(-(\d+))?$/.exec(name);
  if (rt) {
    const base = name.startsWith('SIGRTMIN') ? 34 : 64;
    const off = Number(rt[2] ?? 0) * (name.startsWith('SIGRTMIN') ? 1 : -1);
    if (base + off >= 34 && base + off <= 64) return base + off;
  }
  const numbers = byName();
  if (name in numbers) return numbers[name];
  throw new TcrError(`invalid signal ${JSON.stringify(s)}`);
}

export function signalName(n: number): string {
  return Object.entries(byName()).find(([, v]) => v === n)?.[0] ?? `signal ${n}`;
}
