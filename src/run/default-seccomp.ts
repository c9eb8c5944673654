// The seccomp profile `tcr run` applies unless told otherwise: everything is
// allowed except the syscalls Docker's documentation lists as blocked by its
// default profile (kernel modules, keyrings, clocks, mounts and namespaces,
// tracing, reboot, ...), which fail with EPERM. A deny list keeps the profile
// short and readable; a syscall newer than the list is allowed.
import type { Seccomp } from '../spec/types.js';

export const BLOCKED_SYSCALLS = [
  'acct', 'add_key', 'bpf', 'clock_adjtime', 'clock_settime', 'create_module', 'delete_module', 'finit_module',
  'get_kernel_syms', 'get_mempolicy', 'init_module', 'ioperm', 'iopl', 'kcmp', 'kexec_file_load', 'kexec_load',
  'keyctl', 'lookup_dcookie', 'mbind', 'mount', 'mount_setattr', 'move_mount', 'move_pages', 'name_to_handle_at',
  'nfsservctl', 'open_by_handle_at', 'open_tree', 'fsopen', 'fsconfig', 'fsmount', 'fspick', 'perf_event_open',
  'pivot_root', 'process_vm_readv', 'process_vm_writev', 'ptrace', 'query_module', 'quotactl', 'reboot',
  'request_key', 'set_mempolicy', 'setns', 'settimeofday', 'stime', 'swapon', 'swapoff', 'syslog', 'sysfs',
  '_sysctl', 'umount', 'umount2', 'unshare', 'uselib', 'userfaultfd', 'ustat', 'vm86', 'vm86old',
];

export function defaultSeccomp(): Seccomp {
  return {
    defaultAction: 'SCMP_ACT_ALLOW',
    architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
    syscalls: [{ names: BLOCKED_SYSCALLS, action: 'SCMP_ACT_ERRNO', errnoRet: 1 }],
  };
}
