// Capability names and numbers (linux/capability.h), and the five sets of
// process.capabilities turned into bit masks for the executor.
import fs from 'node:fs';
import type { Capabilities } from '../spec/types.js';

export const CAPABILITIES = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_DAC_READ_SEARCH',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_LINUX_IMMUTABLE',
  'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST',
  'CAP_NET_ADMIN',
  'CAP_NET_RAW',
  'CAP_IPC_LOCK',
  'CAP_IPC_OWNER',
  'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO',
  'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT',
  'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG',
  'CAP_MKNOD',
  'CAP_LEASE',
  'CAP_AUDIT_WRITE',
  'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE',
  'CAP_MAC_ADMIN',
  'CAP_SYSLOG',
  'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ',
  'CAP_PERFMON',
  'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE',
] as const;

export type CapSet = keyof Capabilities;
export const CAP_SETS: CapSet[] = ['bounding', 'effective', 'inheritable', 'permitted', 'ambient'];

export function capNumber(name: string): number | undefined {
  const i = (CAPABILITIES as readonly string[]).indexOf(name.toUpperCase());
  return i < 0 ? undefined : i;
}

let lastCap: number | undefined;
/** The highest capability this kernel knows. */
export function kernelLastCap(): number {
  if (lastCap === undefined) {
    try {
      lastCap = Number(fs.readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8').trim());
    } catch {
      lastCap = CAPABILITIES.length - 1;
    }
  }
  return lastCap;
}

/** A set of names as a mask; names the kernel does not know are left out, as runc does. */
export function capMask(names: string[] | undefined): bigint {
  let mask = 0n;
  const last = kernelLastCap();
  for (const name of names ?? []) {
    const n = capNumber(name);
    if (n !== undefined && n <= last) mask |= 1n << BigInt(n);
  }
  return mask;
}

export function capNames(mask: bigint): string[] {
  return CAPABILITIES.filter((_, i) => (mask >> BigInt(i)) & 1n);
}

let bounding: bigint | undefined;
/** The runtime's own bounding set (CapBnd): no process it starts can ever hold a capability outside it. */
export function ownBoundingSet(status = (): string => fs.readFileSync('/proc/self/status', 'utf8')): bigint {
  if (bounding === undefined) {
    const m = /^CapBnd:\s*([0-9a-f]+)$/m.exec(status());
    bounding = m ? BigInt(`0x${m[1]}`) : (1n << BigInt(kernelLastCap() + 1)) - 1n;
  }
  return bounding;
}

/**
 * Refuses, before anything is made, a capability the process would hold
 * (effective, permitted, inheritable, ambient) that the runtime's bounding
 * set lacks: capset would fail with EPERM after `start`, where no one hears
 * it. runc fails create the same way ("unable to apply caps"). Names in
 * bounding itself may be absent: the set is only ever reduced.
 */
export function refuseUngrantable(caps: Capabilities | undefined, have: bigint = ownBoundingSet()): string | undefined {
  for (const set of ['permitted', 'effective', 'inheritable', 'ambient'] as const) {
    const missing = capMask(caps?.[set]) & ~have;
    if (missing)
      return `process.capabilities.${set}: ${capNames(missing).join(', ')} not in the runtime's own bounding set (CapBnd 0x${have.toString(16)}): no process it starts can hold ${missing & (missing - 1n) ? 'them' : 'it'}`;
  }
  return undefined;
}
