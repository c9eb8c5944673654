// `tcr features`: what this runtime supports, in runc's JSON shape, so an
// orchestrator can ask before it sends a config.
import { Command } from 'commander';
import { CAPABILITIES } from '../linux/capabilities.js';
import { FLAG_OPTIONS, PROPAGATION } from '../linux/mounts.js';
import { out } from '../log.js';
import { OCI_VERSION } from '../spec/defaults.js';
import { NAMESPACE_TYPES } from '../spec/validate.js';
import { VERSION } from './version.js';

const SECCOMP_ACTIONS = [
  'SCMP_ACT_ALLOW',
  'SCMP_ACT_ERRNO',
  'SCMP_ACT_KILL',
  'SCMP_ACT_KILL_PROCESS',
  'SCMP_ACT_KILL_THREAD',
  'SCMP_ACT_LOG',
  'SCMP_ACT_TRACE',
  'SCMP_ACT_TRAP',
];
const SECCOMP_OPERATORS = ['SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT', 'SCMP_CMP_LE', 'SCMP_CMP_LT', 'SCMP_CMP_MASKED_EQ', 'SCMP_CMP_NE'];
const SECCOMP_ARCHS = [
  'AARCH64',
  'ARM',
  'MIPS',
  'MIPS64',
  'MIPS64N32',
  'MIPSEL',
  'MIPSEL64',
  'MIPSEL64N32',
  'PPC',
  'PPC64',
  'PPC64LE',
  'S390',
  'S390X',
  'X32',
  'X86',
  'X86_64',
].map((a) => `SCMP_ARCH_${a}`);

export async function features(): Promise<Record<string, unknown>> {
  let libseccomp: string | undefined;
  try {
    const koffi = (await import('koffi')).default;
    const lib = koffi.load('libseccomp.so.2');
    koffi.struct('scmp_version', { major: 'uint', minor: 'uint', micro: 'uint' });
    const v = lib.func('const scmp_version *seccomp_version()')() as unknown;
    const d = koffi.decode(v, 'scmp_version') as { major: number; minor: number; micro: number };
    libseccomp = `${d.major}.${d.minor}.${d.micro}`;
  } catch {
    // without libseccomp, seccomp profiles are refused at create
  }
  const nsNames: Record<string, string> = { network: 'network', mount: 'mount' };
  return {
    ociVersionMin: '1.0.0',
    ociVersionMax: OCI_VERSION,
    hooks: ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'],
    mountOptions: [...Object.keys(FLAG_OPTIONS), ...Object.keys(PROPAGATION)].sort(),
    linux: {
      namespaces: NAMESPACE_TYPES.map((n) => nsNames[n] ?? n).sort(),
      capabilities: [...CAPABILITIES],
      cgroup: { v1: true, v2: true, systemd: true, systemdUser: true },
      seccomp: { enabled: libseccomp !== undefined, actions: SECCOMP_ACTIONS, operators: SECCOMP_OPERATORS, archs: SECCOMP_ARCHS },
      apparmor: { enabled: true },
      selinux: { enabled: true },
    },
    annotations: {
      ...(libseccomp ? { 'io.github.seccomp.libseccomp.version': libseccomp } : {}),
      'org.opencontainers.runc.checkpoint.enabled': 'false',
      'dev.tcr.version': VERSION,
    },
  };
}

export function registerFeatures(program: Command): void {
  program
    .command('features')
    .description('print what this runtime supports, as JSON')
    .action(async () => out(JSON.stringify(await features(), null, '    ') + '\n'));
}
