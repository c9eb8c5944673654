// Containers a lab starts from OCI bundles of its own (`tcr run -d --bundle`),
// in a parent cgroup the lab makes and weights, so that the limits under test,
// not every other task on the machine, decide what the containers get. Each
// bundle is the demo busybox config with the lab's args, resources and
// linux.cgroupsPath, over the shared read-only demo rootfs.
import fs from 'node:fs';
import path from 'node:path';
import { cgroupLayout } from '../cgroups/detect.js';
import type { Resources, Spec } from '../spec/types.js';
import type { LabContext } from './lab.js';
import { containerCgroup } from './cgroup-counters.js';
import type { LabContainer } from './lab-containers.js';

export class BundleContainers {
  private readonly ids: string[] = [];
  readonly parent: string;

  constructor(
    private readonly ctx: LabContext,
    tag: string,
  ) {
    this.parent = `tcr-lab-${tag}`;
  }

  /**
   * Makes the parent cgroup with a CPU weight (v1 cpu.shares, v2 cpu.weight), before any container
   * exists in it; tcr makes the other hierarchies' levels itself. The weight competes with the
   * machine's other top-level tasks and cgroups, each of which weighs 1024 (v2: 100).
   */
  weightParent(shares: number): string {
    const layout = cgroupLayout();
    if (layout.unified) {
      const dir = path.join(layout.root, this.parent);
      fs.mkdirSync(dir, { recursive: true });
      const weight = Math.min(10000, Math.max(1, Math.round(1 + ((shares - 2) * 9999) / 262142)));
      fs.writeFileSync(path.join(dir, 'cpu.weight'), String(weight));
      return `${dir}/cpu.weight = ${weight}`;
    }
    const name = [...layout.controllers.entries()].find(([, set]) => set.has('cpu'))?.[0];
    if (!name) throw new Error('no cpu cgroup hierarchy on this host');
    const dir = path.join(layout.mountPoints.get(name)!, this.parent);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'cpu.shares'), String(shares));
    return `${dir}/cpu.shares = ${shares}`;
  }

  /** Writes a bundle and runs it detached; its stdio goes to /dev/null so no pipe of ours stays open. */
  async start(role: string, script: string, resources: Resources): Promise<LabContainer> {
    const id = `${this.parent}-${role}`;
    const dir = path.join(this.ctx.scratch, `bundle-${role}`);
    const template = JSON.parse(fs.readFileSync(path.join(path.dirname(this.ctx.busyboxRootfs), 'config.json'), 'utf8')) as Spec;
    const linux = template.linux ?? {};
    template.process = { ...template.process!, args: ['sh', '-c', `exec </dev/null >/dev/null 2>&1; ${script}`] };
    template.root = { path: path.resolve(this.ctx.busyboxRootfs), readonly: true };
    template.hostname = role;
    template.linux = { ...linux, resources: { ...linux.resources, ...resources }, cgroupsPath: `/${this.parent}/${role}` };
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(template, null, 2));
    this.ids.push(id);
    const run = await this.ctx.tcr(['run', '-d', '--bundle', dir, id], { timeoutMs: 60_000 });
    if (run.status !== 0) throw new Error(`tcr run --bundle ${dir} ${id}: exit ${run.status}: ${run.stderr.trim()}`);
    const state = JSON.parse((await this.ctx.tcr(['state', id])).stdout) as { pid?: number };
    if (!state.pid) throw new Error(`${id}: no running init`);
    return { name: id, pid: state.pid, cgroup: containerCgroup(state.pid) };
  }

  /** Deletes the containers, then the parent cgroup in every hierarchy; never throws. */
  async removeAll(): Promise<void> {
    for (const id of this.ids.splice(0)) await this.ctx.tcr(['delete', '-f', id], { timeoutMs: 60_000 }).catch(() => undefined);
    const layout = cgroupLayout();
    const mounts = layout.unified ? [layout.root] : [...layout.mountPoints.values()];
    for (const mp of mounts) {
      try {
        fs.rmdirSync(path.join(mp, this.parent));
      } catch {
        // absent in a hierarchy tcr did not use, or gone already
      }
    }
  }
}
