// Reading an OCI bundle: config.json parsed and validated, the rootfs found.
import fs from 'node:fs';
import path from 'node:path';
import { SpecError, TcrError, errnoCode, errorMessage } from '../errors.js';
import type { Spec } from '../spec/types.js';
import { validateSpec } from '../spec/validate.js';

export interface Bundle {
  dir: string;
  spec: Spec;
  rootfs: string;
}

export function loadBundle(dir: string): Bundle {
  const abs = path.resolve(dir);
  if (!fs.existsSync(abs)) throw new TcrError(`bundle ${abs} does not exist`);
  const file = path.join(abs, 'config.json');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new TcrError(`${file}: cannot read: ${errnoCode(e) ?? errorMessage(e)}`);
  }
  let spec: unknown;
  try {
    spec = JSON.parse(text);
  } catch (e) {
    throw new TcrError(`${file}: not valid JSON: ${(e as Error).message}`);
  }
  validateSpec(spec);
  const rootfs = path.resolve(abs, spec.root!.path);
  let st: fs.Stats;
  try {
    st = fs.statSync(rootfs);
  } catch {
    throw new SpecError('root.path', `rootfs ${rootfs} does not exist`);
  }
  if (!st.isDirectory()) throw new SpecError('root.path', `rootfs ${rootfs} is not a directory`);
  return { dir: abs, spec, rootfs: fs.realpathSync(rootfs) };
}
