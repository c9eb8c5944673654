// docker's health checks: the test from --health-cmd or the image's
// Healthcheck, run by the monitor through `tcr exec` every interval while the
// container runs. A run that fails (not 0, or past the timeout) counts
// toward --health-retries, except within the start period; the state
// (Status, FailingStreak, the last 5 runs) is <store>/containers/ID/health.json,
// which inspect shows as State.Health and ps can read through healthStatus.
import fs from 'node:fs';
import path from 'node:path';
import { TcrError } from '../errors.js';
import { writeFileAtomic } from '../container/state-store.js';
import { tcrLoader } from '../sys/package-root.js';
import { parseDuration } from './log-time.js';

export interface HealthConfig {
  /** the command as exec runs it */
  command: string[];
  intervalMs: number;
  timeoutMs: number;
  retries: number;
  startPeriodMs: number;
}

export interface HealthFlags {
  cmd?: string;
  interval?: string;
  timeout?: string;
  retries?: string;
  startPeriod?: string;
  /** --no-healthcheck */
  disabled?: boolean;
}

/** The image config's Healthcheck, as docker writes it (durations in nanoseconds). */
interface ImageHealthcheck {
  Test?: string[];
  Interval?: number;
  Timeout?: number;
  Retries?: number;
  StartPeriod?: number;
}

const SECOND = 1000;

function flagDuration(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const ns = parseDuration(text) ?? (text === '0' ? 0n : undefined);
  if (ns === undefined) throw new TcrError(`${flag} ${JSON.stringify(text)}: not a duration (such as 30s, 1m30s)`, 125);
  return Number(ns / 1_000_000n);
}

/** The check a container gets: the flags over the image's; undefined for none (no test, NONE, --no-healthcheck). */
export function resolveHealth(f: HealthFlags, image: ImageHealthcheck | undefined): HealthConfig | undefined {
  if (f.disabled && f.cmd !== undefined) throw new TcrError('--no-healthcheck with --health-cmd: choose one', 125);
  const retries = f.retries === undefined ? undefined : Number(f.retries);
  if (retries !== undefined && !(Number.isInteger(retries) && retries >= 0))
    throw new TcrError(`--health-retries ${JSON.stringify(f.retries)}: not a whole number`, 125);
  const interval = flagDuration('--health-interval', f.interval);
  const timeout = flagDuration('--health-timeout', f.timeout);
  const startPeriod = flagDuration('--health-start-period', f.startPeriod);
  if (f.disabled) return undefined;
  const test = f.cmd !== undefined ? ['CMD-SHELL', f.cmd] : image?.Test;
  if (!test?.length || test[0] === 'NONE') return undefined;
  const command = test[0] === 'CMD-SHELL' ? ['/bin/sh', '-c', test.slice(1).join(' ')] : test[0] === 'CMD' ? test.slice(1) : test;
  if (!command.length) return undefined;
  const ms = (ns: number | undefined) => (ns ? Math.round(ns / 1e6) : undefined);
  return {
    command,
    // 0 means the default, as in docker
    intervalMs: interval || ms(image?.Interval) || 30 * SECOND,
    timeoutMs: timeout || ms(image?.Timeout) || 30 * SECOND,
    retries: retries || image?.Retries || 3,
    startPeriodMs: startPeriod ?? ms(image?.StartPeriod) ?? 0,
  };
}

export interface HealthState {
  Status: 'starting' | 'healthy' | 'unhealthy';
  FailingStreak: number;
  Log: { Start: string; End: string; ExitCode: number; Output: string }[];
}

const FILE = 'health.json';
const KEPT_RUNS = 5;
const KEPT_OUTPUT = 4096;

export function readHealth(containerDir: string): HealthState | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(containerDir, FILE), 'utf8')) as HealthState;
  } catch {
    return undefined;
  }
}

/** For ps's STATUS: "healthy", "unhealthy" or "health: starting", or undefined for a container without a check. */
export function healthStatus(storeRoot: string, id: string): string | undefined {
  const s = readHealth(path.join(storeRoot, 'containers', id))?.Status;
  return s === 'starting' ? 'health: starting' : s;
}

/** One run of the test; resolves with its status (-1: timed out or not run) and output. */
async function runTest(stateRoot: string, id: string, cfg: HealthConfig): Promise<{ code: number; output: string }> {
  const { spawn } = await import('node:child_process');
  const { NODE_EXTRA_CA_CERTS: _unused, ...env } = process.env;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [tcrLoader(), '--root', stateRoot, 'exec', id, ...cfg.command], {
      env,
      cwd: '/',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const keep = (b: Buffer) => (output = (output + b.toString()).slice(-KEPT_OUTPUT));
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => {
      output += `Health check exceeded timeout (${cfg.timeoutMs / SECOND}s)`;
      child.kill('SIGKILL');
    }, cfg.timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ code: -1, output: e.message });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, output });
    });
  });
}

/** The monitor's checker for one launch: started once it runs, stopped at its exit. */
export class HealthChecker {
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private readonly began = Date.now();
  private state: HealthState = { Status: 'starting', FailingStreak: 0, Log: [] };

  constructor(
    private readonly stateRoot: string,
    private readonly containerDir: string,
    private readonly id: string,
    private readonly cfg: HealthConfig,
  ) {
    this.write();
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(): void {
    if (!this.stopped) this.timer = setTimeout(() => void this.check(), this.cfg.intervalMs);
  }

  private async check(): Promise<void> {
    const start = new Date().toISOString();
    const r = await runTest(this.stateRoot, this.id, this.cfg);
    if (this.stopped) return; // the container exited meanwhile: its exec failed for that
    const s = this.state;
    s.Log = [...s.Log, { Start: start, End: new Date().toISOString(), ExitCode: r.code, Output: r.output }].slice(-KEPT_RUNS);
    if (r.code === 0) {
      s.Status = 'healthy';
      s.FailingStreak = 0;
    } else if (Date.now() - this.began >= this.cfg.startPeriodMs || s.Status !== 'starting') {
      // within the start period a failure does not count, until a first success
      s.FailingStreak++;
      if (s.FailingStreak >= this.cfg.retries) s.Status = 'unhealthy';
    }
    this.write();
    this.schedule();
  }

  private write(): void {
    try {
      writeFileAtomic(path.join(this.containerDir, FILE), JSON.stringify(this.state));
    } catch {
      // removed with the container
    }
  }
}
