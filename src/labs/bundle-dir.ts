// A bundle for a lab's container: the demo's config.json (demo/busybox), its
// rootfs by absolute path (not copied), with the lab's command and changes.
import fs from 'node:fs';
import path from 'node:path';
import type { Spec } from '../spec/types.js';
import { TcrError } from '../errors.js';
import type { LabContext } from './lab.js';

export function labBundle(ctx: LabContext, name: string, args: string[], change: (spec: Spec) => void = () => {}): string {
  const dir = path.join(ctx.scratch, name);
  fs.mkdirSync(dir, { recursive: true });
  const spec = JSON.parse(fs.readFileSync(path.join(ctx.busyboxRootfs, '..', 'config.json'), 'utf8')) as Spec;
  spec.root = { path: ctx.busyboxRootfs, readonly: true };
  spec.process = { ...spec.process!, args, terminal: false };
  change(spec);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(spec, null, 2));
  return dir;
}

/** A container id no other run of the lab has at the same time. */
export const labId = (lab: string): string => `lab-${lab}-${process.pid}-${Date.now().toString(36)}`;

/**
 * `tcr run --bundle` of a lab's container with the lab's own --root, its output returned; a
 * failed or timed-out run's container deleted so that nothing of it stays behind.
 */
export async function runLabContainer(ctx: LabContext, lab: string, bundle: string, runFlags: string[] = []): Promise<string> {
  const root = path.join(ctx.scratch, 'state');
  const id = labId(lab);
  const r = await ctx.tcr(['--root', root, 'run', ...runFlags, '--bundle', bundle, id], { timeoutMs: 120_000 });
  if (r.status === 0) return r.stdout;
  await ctx.tcr(['--root', root, 'delete', '--force', id]);
  throw new TcrError(`lab ${lab}: tcr run of its container exited ${r.status}: ${r.stderr.trim() || r.stdout.trim()}`);
}
