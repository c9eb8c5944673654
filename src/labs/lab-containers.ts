// The containers a measuring lab starts with `tcr run -d`, so that every one
// is removed at the end, also when the lab fails half-way.
import os from 'node:os';
import type { LabContext } from './lab.js';
import { containerCgroup, type ContainerCgroup } from './cgroup-counters.js';

export interface LabContainer {
  name: string;
  pid: number;
  cgroup: ContainerCgroup;
}

export class LabContainers {
  private readonly names: string[] = [];
  /** a suffix that keeps two runs of the same lab (or a test beside a user) apart */
  readonly tag = `${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;

  constructor(private readonly ctx: LabContext) {}

  nameFor(role: string): string {
    return `lab-${role}-${this.tag}`;
  }

  /** `tcr run -d --name ... ARGS`; the container's init pid and its cgroup's counters. */
  async start(role: string, args: string[]): Promise<LabContainer> {
    const name = this.nameFor(role);
    this.names.push(name);
    const run = await this.ctx.tcr(['run', '-d', '--name', name, ...args], { timeoutMs: 60_000 });
    if (run.status !== 0) throw new Error(`tcr run ${name}: exit ${run.status}: ${run.stderr.trim()}`);
    const pid = Number((await this.ctx.tcr(['inspect', '-f', '{{.State.Pid}}', name])).stdout.trim());
    if (!(pid > 0)) throw new Error(`${name}: no running init (it exited at once?)`);
    return { name, pid, cgroup: containerCgroup(pid) };
  }

  async logs(name: string): Promise<string> {
    return (await this.ctx.tcr(['logs', name])).stdout;
  }

  /** Removes every container started here; never throws, so it can run in a finally. */
  async removeAll(): Promise<void> {
    const names = this.names.splice(0);
    if (names.length) await this.ctx.tcr(['rm', '-f', ...names], { timeoutMs: 60_000 }).catch(() => undefined);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The 1-, 5- and 15-minute load averages, for the text of a lab whose numbers the load moves. */
export function loadAverage(): string {
  return os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
}
