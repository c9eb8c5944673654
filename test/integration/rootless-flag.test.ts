// runc's global --rootless (true, false, auto): whether the container's
// cgroup is treated as an ordinary user's, made only where one is delegated.
// auto, the default, decides by the runtime's euid and user namespace
// (test/e2e/rootless-podman.test.ts runs it as root of a user's namespace);
// here, as the host's root, true and false are forced and the container's
// /proc/self/cgroup says which it got.
import fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { Sandbox, isRoot, lacks } from '../helpers.js';

describe.skipIf(lacks(isRoot))('--rootless', () => {
  const sb = new Sandbox('tcr-rootless-flag');
  afterAll(() => sb.cleanup());
  const id = () => `rl${Date.now().toString(36)}${Math.floor(Math.random() * 1e6)}`;
  const runWith = (value: string, edit: Parameters<Sandbox['bundle']>[1] = () => {}) => {
    const name = id();
    const b = sb.bundle(name, (s) => {
      s.process!.args = ['cat', '/proc/self/cgroup'];
      edit(s);
    });
    return { name, r: sb.tcr([`--rootless=${value}`, '--debug', 'run', '--bundle', b, name]) };
  };

  it('true: no cgroup of its own where none is delegated (this host), the runtime says why with --debug', () => {
    const { r } = runWith('true');
    expect(r.status, r.stderr).toBe(0);
    // the init stays in the cgroups of the runtime, which are this test's
    expect(r.stdout).toBe(fs.readFileSync('/proc/self/cgroup', 'utf8'));
    expect(r.stderr).toMatch(/rootless: no cgroup: /);
  });

  it('false and auto (as the host root): a cgroup of its own, as always', () => {
    for (const value of ['false', 'auto']) {
      const { name, r } = runWith(value);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^\\d+:pids:/tcr/${name}$`, 'm'));
    }
  });

  it('true: a limit, which needs a cgroup, is refused naming the field', () => {
    const { name, r } = runWith('true', (s) => (s.linux!.resources = { pids: { limit: 10 } }));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^tcr: linux\.resources\.pids: a limit needs a cgroup, and this container has no cgroup: /m);
    expect(fs.existsSync(`${sb.root}/${name}`)).toBe(false);
  });

  it('a value other than true, false or auto is named', () => {
    const r = sb.tcr(['--rootless', 'maybe', 'list']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/--rootless <value>' argument 'maybe' is invalid\. Allowed choices are true, false, auto/);
  });
});
