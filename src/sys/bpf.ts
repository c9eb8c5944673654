// bpf(2) through koffi: load a cgroup device program and attach it to a
// cgroup v2 directory. Loaded lazily, only on cgroup v2 hosts.
import koffi from 'koffi';
import fs from 'node:fs';
import { TcrError } from '../errors.js';
import { errnoName } from './errno.js';

const SYS_bpf = 321; // x86_64
const BPF_PROG_LOAD = 5;
const BPF_PROG_ATTACH = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE = 15;
const BPF_CGROUP_DEVICE = 6;
const BPF_F_ALLOW_MULTI = 2;

const libc = koffi.load('libc.so.6');
const syscall = libc.func('long syscall(long nr, ...)');

function bpf(cmd: number, attr: Buffer): number {
  const r = Number(syscall(SYS_bpf, 'int', cmd, 'void *', attr, 'uint', attr.length));
  if (r < 0) throw Object.assign(new Error(errnoName(koffi.errno())), { errno: koffi.errno() });
  return r;
}

/** Copies bytes into C memory that lives as long as the process (the kernel copies it on load). */
function cBytes(buf: Buffer): bigint {
  const p = koffi.alloc('uint8', buf.length);
  koffi.encode(p, koffi.array('uint8', buf.length), [...buf]);
  return koffi.address(p);
}

/** Loads the program and attaches it to the cgroup directory; returns nothing, the attachment holds it. */
export function attachDeviceProgram(cgroupDir: string, insns: Buffer): void {
  const license = Buffer.from('Apache\0');
  const load = Buffer.alloc(128);
  load.writeUInt32LE(BPF_PROG_TYPE_CGROUP_DEVICE, 0);
  load.writeUInt32LE(insns.length / 8, 4);
  load.writeBigUInt64LE(cBytes(insns), 8);
  load.writeBigUInt64LE(cBytes(license), 16);
  let prog: number;
  try {
    prog = bpf(BPF_PROG_LOAD, load);
  } catch (e) {
    throw new TcrError(`cgroup: loading the device filter (bpf BPF_PROG_LOAD): ${(e as Error).message}`);
  }
  const dir = fs.openSync(cgroupDir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  try {
    const attach = Buffer.alloc(20);
    attach.writeUInt32LE(dir, 0);
    attach.writeUInt32LE(prog, 4);
    attach.writeUInt32LE(BPF_CGROUP_DEVICE, 8);
    attach.writeUInt32LE(BPF_F_ALLOW_MULTI, 12);
    bpf(BPF_PROG_ATTACH, attach);
  } catch (e) {
    throw new TcrError(`cgroup: attaching the device filter to ${cgroupDir}: ${(e as Error).message}`);
  } finally {
    fs.closeSync(dir);
    fs.closeSync(prog);
  }
}
