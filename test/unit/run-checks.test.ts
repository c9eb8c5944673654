// The `tcr run IMAGE` checks made before anything exists (src/cli/run-checks.ts):
// docker's container-name rule and its memory and memory-swap rules.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MIN_MEMORY, checkName, memoryLimits } from '../../src/cli/run-checks.js';
import { hostHasSwapAccounting } from '../../src/cgroups/detect.js';
import { buildImageSpec } from '../../src/run/image-spec.js';
import { imageRunOptions, type ImageRunFlags } from '../../src/cli/docker-commands.js';

const MiB = 1024 * 1024;

describe('--name', () => {
  it('takes docker\'s names; an empty one means "make one up", as in docker and podman', () => {
    for (const n of ['web', 'a1', 'My_app.2-x', '0ab']) expect(checkName(n)).toBe(n);
    expect(checkName('')).toBeUndefined();
    expect(checkName(undefined)).toBeUndefined();
  });

  it('refuses anything else, naming the flag, the name and the rule', () => {
    for (const n of ['a/b', '..', '.x', '-x', '_x', 'a', 'a b', 'a:b', 'ü1', 'x'.repeat(254)])
      expect(() => checkName(n), n).toThrow(`--name: invalid container name (${n}): only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  });
});

describe('-m and --memory-swap', () => {
  it('-m alone: memory-swap is twice the memory; -m 0 or none is no limit', () => {
    expect(memoryLimits('64m', undefined)).toEqual({ limit: 64 * MiB, swap: 128 * MiB });
    expect(memoryLimits('6m', undefined)).toEqual({ limit: MIN_MEMORY, swap: 2 * MIN_MEMORY });
    expect(memoryLimits('0', undefined)).toEqual({ limit: undefined, swap: undefined });
    expect(memoryLimits(undefined, undefined)).toEqual({ limit: undefined, swap: undefined });
  });

  it('--memory-swap: a total at least the memory, -1 unlimited, 0 the default', () => {
    expect(memoryLimits('64m', '100m')).toEqual({ limit: 64 * MiB, swap: 100 * MiB });
    expect(memoryLimits('64m', '64m')).toEqual({ limit: 64 * MiB, swap: 64 * MiB });
    expect(memoryLimits('64m', '-1')).toEqual({ limit: 64 * MiB, swap: -1 });
    expect(memoryLimits('64m', '0')).toEqual({ limit: 64 * MiB, swap: 128 * MiB });
  });

  it('refuses a limit below 6 MiB, saying the minimum', () => {
    expect(() => memoryLimits('1k', undefined)).toThrow(
      '--memory: 1k (1024 bytes) is too small: the minimum memory limit is 6MB (6291456 bytes)',
    );
    expect(() => memoryLimits(String(MIN_MEMORY - 1), undefined)).toThrow(/too small/);
    expect(() => memoryLimits('-1', undefined)).toThrow('--memory: "-1" is not a size');
    expect(() => memoryLimits('lots', undefined)).toThrow('--memory: "lots" is not a size');
  });

  it('refuses a memory-swap below the memory, or without it', () => {
    expect(() => memoryLimits('64m', '32m')).toThrow('--memory-swap 32m: must be at least the memory limit (-m 64m)');
    expect(() => memoryLimits(undefined, '64m')).toThrow('--memory-swap 64m: needs a memory limit too (-m/--memory)');
    expect(() => memoryLimits('0', '64m')).toThrow(/needs a memory limit/);
  });

  it('reaches the config as memory.limit and memory.swap', () => {
    const flags = {
      env: [],
      envFile: [],
      volume: [],
      mount: [],
      tmpfs: [],
      capAdd: [],
      capDrop: [],
      securityOpt: [],
      network: 'none',
      publish: [],
      dns: [],
      dnsSearch: [],
      dnsOption: [],
      addHost: [],
      networkAlias: [],
      pull: 'never',
    } as ImageRunFlags;
    const spec = (f: Partial<ImageRunFlags>) =>
      buildImageSpec(imageRunOptions('img', ['true'], { ...flags, ...f }), {
        id: 'c1',
        rootfs: '/r',
        config: { config: {} } as never,
        lookupRoot: [],
        userMounts: [],
      }).linux!.resources!.memory;
    expect(spec({ memory: '64m' })).toEqual({ limit: 64 * MiB, swap: 128 * MiB });
    expect(spec({ memory: '64m', memorySwap: '-1' })).toEqual({ limit: 64 * MiB, swap: -1 });
    expect(spec({ memory: '0' })).toBeUndefined();
  });
});

describe('swap accounting', () => {
  const top = fs.mkdtempSync(path.join(os.tmpdir(), 'tcr-cg-'));
  afterAll(() => fs.rmSync(top, { recursive: true, force: true }));
  const fake = (files: string[]) => {
    const root = fs.mkdtempSync(path.join(top, 'root-'));
    for (const f of files) {
      fs.mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
      fs.writeFileSync(path.join(root, f), '');
    }
    return root;
  };

  it('v1: the memsw files; v2: memory.swap.max in a child cgroup', () => {
    expect(hostHasSwapAccounting(fake(['memory/memory.limit_in_bytes', 'memory/memory.memsw.limit_in_bytes']))).toBe(true);
    expect(hostHasSwapAccounting(fake(['memory/memory.limit_in_bytes']))).toBe(false);
    expect(hostHasSwapAccounting(fake(['cgroup.controllers', 'system.slice/memory.swap.max']))).toBe(true);
    expect(hostHasSwapAccounting(fake(['cgroup.controllers', 'system.slice/memory.max']))).toBe(false);
  });
});
