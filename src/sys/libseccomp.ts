// libseccomp through koffi: only the calls needed to compile a profile into
// the BPF program the launch plan carries (the executor loads it with
// seccomp(2) at the very end, so libseccomp never runs in the container).
import koffi from 'koffi';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TcrError } from '../errors.js';

const lib = (() => {
  try {
    return koffi.load('libseccomp.so.2');
  } catch (e) {
    throw new TcrError(`linux.seccomp needs libseccomp (libseccomp.so.2): ${(e as Error).message}`);
  }
})();

koffi.struct('scmp_arg_cmp', { arg: 'uint32', op: 'uint32', datum_a: 'uint64', datum_b: 'uint64' });

export const seccomp = {
  init: lib.func('void *seccomp_init(uint32 def_action)'),
  release: lib.func('void seccomp_release(void *ctx)'),
  archAdd: lib.func('int seccomp_arch_add(void *ctx, uint32 arch)'),
  archResolveName: lib.func('uint32 seccomp_arch_resolve_name(const char *name)'),
  syscallResolveName: lib.func('int seccomp_syscall_resolve_name(const char *name)'),
  ruleAddArray: lib.func('int seccomp_rule_add_array(void *ctx, uint32 action, int syscall, uint arg_cnt, const scmp_arg_cmp *args)'),
  attrSet: lib.func('int seccomp_attr_set(void *ctx, int attr, uint32 value)'),
  exportBpf: lib.func('int seccomp_export_bpf(void *ctx, int fd)'),
};

export const SCMP_FLTATR = { ACT_BADARCH: 2, CTL_NNP: 3 } as const;

/** Exports the filter of ctx as raw BPF bytes. */
export function exportBpf(ctx: unknown): Buffer {
  const file = path.join(os.tmpdir(), `tcr-seccomp-${process.pid}-${Date.now()}`);
  const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
  fs.unlinkSync(file);
  try {
    const r = seccomp.exportBpf(ctx, fd) as number;
    if (r < 0) throw new TcrError(`linux.seccomp: libseccomp could not export the filter: errno ${-r}`);
    const size = fs.fstatSync(fd).size;
    const buf = Buffer.alloc(size);
    fs.readSync(fd, buf, 0, size, 0);
    return buf;
  } finally {
    fs.closeSync(fd);
  }
}
