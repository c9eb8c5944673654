// vm-vs-container: the same command started in a VM (its own kernel boots
// first) and in a container (the host's kernel is already running), timed
// from start until the command ran and everything was gone again.
import type { Lab, LabContext, LabResult } from './lab.js';
import { loadAverage } from './lab-containers.js';
import { barChart, fmt } from './svg.js';
import { MARKER, bootOnce, buildInitramfs, findKernel, kvmWorks, type VmBoot } from './vm-boot.js';

export interface VmVsContainerOptions {
  vmBoots?: number;
  containerRuns?: number;
  vmTimeoutMs?: number;
}

export function vmVsContainerLab(o: VmVsContainerOptions = {}): Lab {
  return {
    name: 'vm-vs-container',
    title: 'A VM and a container started to the same command',
    run: (ctx) => runVmVsContainer(ctx, o.vmBoots ?? 2, o.containerRuns ?? 5, o.vmTimeoutMs ?? 120_000),
  };
}

export const vmVsContainer = vmVsContainerLab();

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function runVmVsContainer(ctx: LabContext, vmBoots: number, containerRuns: number, vmTimeoutMs: number): Promise<LabResult> {
  const kernel = findKernel();
  const initrd = buildInitramfs(ctx.scratch);
  let kvm = kvmWorks();
  let kvmFailure = '';
  const boots: VmBoot[] = [];
  for (let i = 0; i < vmBoots; i++) {
    ctx.progress(`booting the VM (${kvm ? 'KVM' : 'TCG emulation'}), ${i + 1} of ${vmBoots}`);
    try {
      boots.push(await bootOnce({ kernel: kernel.kernel, initrd, kvm, timeoutMs: vmTimeoutMs }));
    } catch (e) {
      // /dev/kvm opens but the CPU cannot run this guest (nested virtualisation): emulate instead
      if (!kvm) throw e;
      kvmFailure = (e as Error).message.split('\n')[0];
      kvm = false;
      i--;
    }
  }
  const runs: number[] = [];
  for (let i = 0; i < containerRuns; i++) {
    ctx.progress(`starting a container, ${i + 1} of ${containerRuns}`);
    const t0 = process.hrtime.bigint();
    const r = await ctx.tcr(['run', '--rm', 'busybox', 'echo', MARKER]);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    if (r.status !== 0 || !r.stdout.includes(MARKER)) throw new Error(`tcr run busybox echo: exit ${r.status}: ${r.stderr.trim()}`);
    runs.push(seconds);
  }
  const vm = median(boots.map((b) => b.total));
  const vmToCommand = median(boots.map((b) => b.toCommand));
  const container = median(runs);
  const ratio = vm / container;
  const accel = kvm ? 'KVM (hardware virtualisation)' : 'TCG (QEMU emulates the CPU in software: no usable KVM here)';
  const lines = [
    `The command: print "${MARKER}". In the VM it is the /init of an initramfs (static busybox) that then powers off;`,
    `in the container it is "tcr run --rm busybox echo ...". Both are timed from start until everything is gone again.`,
    `VM: qemu-system-x86_64 with ${accel}, 1 vCPU, 128 MiB, ${kernel.note}.`,
    kvmFailure ? `(/dev/kvm exists, but QEMU failed with it: ${kvmFailure})` : '',
    `Machine load average: ${loadAverage()}: a loaded machine slows both; the ratio is from this one run.`,
    '',
    `VM: ${fmt(vm)} s (median of ${boots.length}; the command ran after ${fmt(vmToCommand)} s: BIOS, the kernel's own boot, then /init).`,
    `Container: ${fmt(container)} s (median of ${runs.length}: tcr's Node start, namespaces, mounts, cgroup, exec, removal).`,
    `The VM took ${fmt(ratio)} times as long. A VM boots a kernel of its own on emulated hardware; a container is a`,
    `process the running host kernel puts in namespaces and a cgroup: nothing boots.`,
  ].filter((l) => l !== '');
  const chart = barChart({
    title: `Start to done: VM (${kvm ? 'KVM' : 'TCG'}) ${fmt(ratio)}x the container`,
    unit: ' s',
    bars: [
      { label: `VM, ${kvm ? 'KVM' : 'TCG'}: to the command`, value: vmToCommand },
      { label: `VM, ${kvm ? 'KVM' : 'TCG'}: to power-off`, value: vm },
      { label: 'container (tcr run --rm)', value: container },
    ],
  });
  return {
    text: lines.join('\n'),
    numbers: [
      { name: 'vm-seconds', value: vm, unit: 's' },
      { name: 'vm-to-command-seconds', value: vmToCommand, unit: 's' },
      { name: 'container-seconds', value: container, unit: 's' },
      { name: 'ratio', value: ratio },
      { name: 'accelerator', value: kvm ? 'kvm' : 'tcg' },
      { name: 'vm-boots', value: boots.length },
      { name: 'container-runs', value: runs.length },
    ],
    figures: [{ name: 'vm-vs-container', title: 'VM and container start times', svg: chart }],
  };
}
