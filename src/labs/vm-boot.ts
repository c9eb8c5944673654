// A small VM booted to one command, as test/v2-guest/run.sh boots its guest
// (QEMU, Debian's kernel, an initramfs with static busybox), stripped to the
// least: the initramfs's /init prints a marker on the serial console and
// powers the machine off. KVM where /dev/kvm works, else TCG (emulation).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const MARKER = 'tcr-lab: the command ran';

export interface VmKernel {
  kernel: string;
  /** how it is booted, for the lab's text */
  note: string;
}

/**
 * The newest /boot/vmlinuz-VER, uncompressed where the kernel has a PVH entry: QEMU then boots the ELF
 * vmlinux straight away instead of emulating the kernel's own decompression. The vmlinux is kept where
 * test/v2-guest/run.sh keeps it (and found there when that script made it first).
 */
export function findKernel(): VmKernel {
  const versions = fs.existsSync('/boot')
    ? fs
        .readdirSync('/boot')
        .filter((f) => f.startsWith('vmlinuz-'))
        .map((f) => f.slice('vmlinuz-'.length))
        .sort((a, b) => a.localeCompare(b, undefined, { numeric: true }))
    : [];
  const version = versions[versions.length - 1];
  if (!version) throw new Error('no /boot/vmlinuz-*: install linux-image-amd64');
  const vmlinuz = `/boot/vmlinuz-${version}`;
  const cached = `/var/cache/tcr-v2-guest/${version}/vmlinux`;
  const pvh = fs.existsSync(`/boot/config-${version}`) && /^CONFIG_PVH=y$/m.test(fs.readFileSync(`/boot/config-${version}`, 'utf8'));
  if (pvh && (fs.existsSync(cached) || extractVmlinux(vmlinuz, cached)))
    return { kernel: cached, note: `Debian's kernel ${version}, uncompressed (${cached}, booted through its PVH entry)` };
  return { kernel: vmlinuz, note: `Debian's kernel ${version}, compressed (${vmlinuz}: it decompresses itself first)` };
}

/** The ELF kernel inside a vmlinuz: the xz or gzip stream after the boot stub, as the kernel's scripts/extract-vmlinux finds it. */
function extractVmlinux(vmlinuz: string, out: string): boolean {
  const image = fs.readFileSync(vmlinuz);
  const formats: [Buffer, string[]][] = [
    [Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), ['xz', '-dc', '--single-stream']],
    [Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), ['zstd', '-dcq']],
    [Buffer.from([0x1f, 0x8b, 0x08]), ['gzip', '-dc']],
  ];
  for (const [magic, [cmd, ...args]] of formats) {
    const at = image.indexOf(magic);
    if (at < 0) continue;
    const r = spawnSync(cmd, args, { input: image.subarray(at), maxBuffer: 1 << 30 });
    const elf = r.stdout;
    if (!elf || elf.length < 4 || elf.subarray(0, 4).toString('latin1') !== '\x7fELF') continue;
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(`${out}.${process.pid}`, elf);
    fs.renameSync(`${out}.${process.pid}`, out);
    return true;
  }
  return false;
}

/** An initramfs of /bin/busybox (static), /dev/console and an /init that prints MARKER and powers off. */
export function buildInitramfs(dir: string): string {
  const root = path.join(dir, 'initramfs');
  for (const d of ['bin', 'dev', 'proc']) fs.mkdirSync(path.join(root, d), { recursive: true });
  fs.copyFileSync('/bin/busybox', path.join(root, 'bin', 'busybox'));
  fs.chmodSync(path.join(root, 'bin', 'busybox'), 0o755);
  fs.writeFileSync(path.join(root, 'init'), `#!/bin/busybox sh\n/bin/busybox echo '${MARKER}'\n/bin/busybox poweroff -f\n`, {
    mode: 0o755,
  });
  const out = path.join(dir, 'initramfs.cpio');
  const r = spawnSync('bash', ['-c', 'mknod dev/console c 5 1 && find . | cpio -o -H newc --quiet > "$1"', 'make-initramfs', out], {
    cwd: root,
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`building the initramfs: ${r.stderr || r.error?.message}`);
  return out;
}

const QEMU = 'qemu-system-x86_64';

/** Whether QEMU can open a KVM machine here (a /dev/kvm node alone is not enough: nested virtualisation may be off). */
export function kvmWorks(): boolean {
  if (!fs.existsSync('/dev/kvm')) return false;
  const r = spawnSync(QEMU, ['-accel', 'kvm', '-M', 'none', '-display', 'none', '-nodefaults', '-no-user-config', '-monitor', 'stdio'], {
    input: 'quit\n',
    encoding: 'utf8',
    timeout: 20_000,
  });
  return r.status === 0 && !/failed|Could not access/i.test(r.stderr);
}

export interface VmBoot {
  /** seconds from starting QEMU to the marker on the serial console */
  toCommand: number;
  /** seconds until QEMU exited (the guest powered off) */
  total: number;
}

/** Boots the guest once; QEMU is killed if it outlives timeoutMs or if the lab fails. */
export function bootOnce(o: { kernel: string; initrd: string; kvm: boolean; timeoutMs: number }): Promise<VmBoot> {
  const append = 'console=ttyS0 quiet loglevel=1 rdinit=/init panic=-1 tsc=reliable no_timer_check cryptomgr.notests mitigations=off';
  const args = [
    ...(o.kvm ? ['-accel', 'kvm', '-cpu', 'host'] : ['-accel', 'tcg', '-cpu', 'max']),
    ...['-smp', '1', '-m', '128M', '-M', 'pc', '-vga', 'none', '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot'],
    ...['-kernel', o.kernel, '-initrd', o.initrd, '-append', append, '-serial', 'stdio'],
  ];
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const seconds = (): number => Number(process.hrtime.bigint() - t0) / 1e9;
    const qemu = spawn(QEMU, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let toCommand: number | undefined;
    const timer = setTimeout(() => qemu.kill('SIGKILL'), o.timeoutMs);
    qemu.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (toCommand === undefined && out.includes(MARKER)) toCommand = seconds();
    });
    qemu.stderr.on('data', (d: Buffer) => (err += d.toString()));
    qemu.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`${QEMU}: ${e.message} (install qemu-system-x86)`));
    });
    qemu.on('close', (code, signal) => {
      clearTimeout(timer);
      const total = seconds();
      if (toCommand === undefined)
        reject(
          new Error(
            `the VM never printed its marker (${signal ? `killed by ${signal} after ${o.timeoutMs} ms` : `exit ${code}`}): ${err.trim() || out.slice(-400)}`,
          ),
        );
      else resolve({ toCommand, total });
    });
  });
}
