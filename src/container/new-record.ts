// The record a create writes first, before anything it names exists
// (state-store.ts): the intent, from which a crash at any later instant is undone.
import os from 'node:os';
import { OCI_VERSION } from '../spec/defaults.js';
import type { Bundle } from './bundle.js';
import type { ContainerRecord } from './state-store.js';

/** The user creating the container; root without an NSS lookup (node:os and getpwuid would be loaded and called on every create). */
function ownerName(): string {
  return process.getuid?.() === 0 ? 'root' : os.userInfo().username;
}

export function newRecord(id: string, bundle: Bundle): ContainerRecord {
  return {
    ociVersion: OCI_VERSION,
    id,
    bundle: bundle.dir,
    rootfs: bundle.rootfs,
    phase: 'creating',
    pid: 0,
    startTime: '',
    created: new Date().toISOString(),
    owner: ownerName(),
    annotations: bundle.spec.annotations,
    config: bundle.spec,
  };
}
