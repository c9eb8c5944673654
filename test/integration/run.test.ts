import fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { Sandbox, isRoot, lacks } from '../helpers.js';

describe.skipIf(lacks(isRoot))('tcr run (root, real kernel)', () => {
  const sb = new Sandbox('tcr-run');
  afterAll(() => sb.cleanup());

  it('runs the process as pid 1 of its own pid namespace with the configured hostname', () => {
    const r = sb.run('echo pid=$$ host=$(hostname)');
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('pid=1 host=tcr-demo');
    expect(r.status).toBe(0);
  });

  it('exits with the container process exit code', () => {
    expect(sb.run('exit 7').status).toBe(7);
  });

  it('--dry-run prints the launch plan and makes nothing', () => {
    const b = sb.bundle('dry');
    const r = sb.tcr(['create', '--dry-run', '--bundle', b, 'dry']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^\s*\d+\s+mount proc on \/proc/m);
    expect(r.stdout).toMatch(/pivot_root .*rootfs/);
    expect(r.stdout).toMatch(/execve "sh" "-c"/);
    expect(sb.tcr(['state', 'dry']).status).toBe(1);
  });

  it('--trace shows each step as the init runs it, with its result and time', () => {
    const r = sb.run('true', () => {}, ['--trace']);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/clone3? CLONE_NEWNS/);
    expect(r.stderr).toMatch(/step +\d+ pivot_root .*: ok \d+µs/);
  });

  it('applies an AppArmor or SELinux label where the host has the LSM, and warns where it does not', () => {
    const r = sb.run('echo ran', (s) => {
      s.process!.apparmorProfile = 'tcr-test-profile';
      s.process!.selinuxLabel = 'system_u:system_r:container_t:s0';
    });
    const apparmor =
      fs.existsSync('/sys/module/apparmor/parameters/enabled') &&
      fs.readFileSync('/sys/module/apparmor/parameters/enabled', 'utf8').trim() === 'Y';
    if (!apparmor) {
      expect(r.stdout).toBe('ran\n');
      expect(r.stderr).toMatch(/warning: process.apparmorProfile "tcr-test-profile" ignored: AppArmor is not enabled/);
    }
    if (!fs.existsSync('/sys/fs/selinux/enforce'))
      expect(r.stderr).toMatch(/warning: process.selinuxLabel .* ignored: SELinux is not enabled/);
  });
});
