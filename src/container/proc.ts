// Reading /proc about a process: is it alive, is it still the process we
// recorded (pid plus start time), which pid namespace it lives in.
import fs from 'node:fs';
import { sleepMs } from '../sys/time.js';

export interface ProcStat {
  state: string;
  ppid: number;
  startTime: string;
}

export function procStat(pid: number): ProcStat | null {
  if (!(pid > 0)) return null;
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // the command name may hold spaces and parentheses: fields start after the last ')'
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: rest[0], ppid: Number(rest[1]), startTime: rest[19] };
}

/** True when pid still names the process that started at startTime and has not exited. */
export function isSameLiveProcess(pid: number, startTime: string): boolean {
  const st = procStat(pid);
  return !!st && st.startTime === startTime && st.state !== 'Z' && st.state !== 'X';
}

export function namespaceId(pid: number, ns: string): string | undefined {
  try {
    return fs.readlinkSync(`/proc/${pid}/ns/${ns}`);
  } catch {
    return undefined;
  }
}

/** Every pid whose pid namespace is `nsId`, read from /proc. */
export function pidsInNamespace(nsId: string): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    if (namespaceId(Number(name), 'pid') === nsId) out.push(Number(name));
  }
  return out;
}

/** Waits until the process is gone or a zombie; false on timeout. */
export function waitGone(pid: number, startTime: string, timeoutMs: number): boolean {
  const end = Date.now() + timeoutMs;
  while (isSameLiveProcess(pid, startTime)) {
    if (Date.now() > end) return false;
    sleepMs(2);
  }
  return true;
}
