import { describe, expect, it } from 'vitest';
import { deviceProgram } from '../../src/cgroups/device-bpf.js';
import { deviceRules, v1RuleText, DEFAULT_ALLOWED, type DeviceRule } from '../../src/cgroups/devices.js';
import { blkioToIoWeight, controllersFor, sharesToWeight, v1Writes, v2Writes } from '../../src/cgroups/resources.js';
import { resolveCgroupsPath } from '../../src/cgroups/manager.js';

/** Runs the device program the way the kernel would, for the instructions it uses. */
function runProgram(prog: Buffer, type: 'c' | 'b', major: number, minor: number, access: string): number {
  const ctx = [
    (((access.includes('m') ? 1 : 0) | (access.includes('r') ? 2 : 0) | (access.includes('w') ? 4 : 0)) << 16) | (type === 'b' ? 1 : 2),
    major,
    minor,
  ];
  const r = new Array<number>(11).fill(0);
  let pc = 0;
  for (let steps = 0; steps < 10000; steps++) {
    const code = prog.readUInt8(pc * 8);
    const regs = prog.readUInt8(pc * 8 + 1);
    const dst = regs & 0xf,
      src = regs >> 4;
    const off = prog.readInt16LE(pc * 8 + 2);
    const imm = prog.readInt32LE(pc * 8 + 4);
    pc++;
    switch (code) {
      case 0x61:
        r[dst] = ctx[off / 4];
        break; // ldx w (r1 = ctx)
      case 0x54:
        r[dst] = (r[dst] & imm) >>> 0;
        break;
      case 0x74:
        r[dst] = r[dst] >>> imm;
        break;
      case 0xbc:
        r[dst] = r[src];
        break;
      case 0xb7:
        r[dst] = imm;
        break;
      case 0x55:
        if (r[dst] !== imm) pc += off;
        break;
      case 0x15:
        if (r[dst] === imm) pc += off;
        break;
      case 0x95:
        return r[0];
      default:
        throw new Error(`unexpected opcode ${code.toString(16)}`);
    }
  }
  throw new Error('no exit');
}

describe('cgroup v2 device program', () => {
  const rules = (spec: Parameters<typeof deviceRules>[0]) => deviceProgram(deviceRules(spec));

  it('denies everything not allowed when the spec starts with deny-all', () => {
    const p = rules([{ allow: false, access: 'rwm' }]);
    expect(p.length % 8).toBe(0);
    expect(runProgram(p, 'c', 1, 11, 'w')).toBe(0); // kmsg
    expect(runProgram(p, 'b', 8, 0, 'r')).toBe(0);
    expect(runProgram(p, 'c', 1, 3, 'rw')).toBe(1); // null, a default
    expect(runProgram(p, 'c', 136, 4, 'rw')).toBe(1); // a pts
    expect(runProgram(p, 'b', 8, 0, 'm')).toBe(1); // mknod of any block device
  });

  it('allows exactly the access a rule names', () => {
    const p = rules([
      { allow: false, access: 'rwm' },
      { allow: true, type: 'c', major: 1, minor: 11, access: 'w' },
    ]);
    expect(runProgram(p, 'c', 1, 11, 'w')).toBe(1);
    expect(runProgram(p, 'c', 1, 11, 'r')).toBe(0);
    expect(runProgram(p, 'c', 1, 11, 'rw')).toBe(0);
    expect(runProgram(p, 'c', 1, 12, 'w')).toBe(0);
  });

  it('lets the last matching rule decide', () => {
    const p = deviceProgram([
      { allow: true, type: 'a', major: -1, minor: -1, access: 'rwm' },
      { allow: false, type: 'c', major: 5, minor: -1, access: 'w' },
    ]);
    expect(runProgram(p, 'c', 5, 1, 'r')).toBe(1);
    expect(runProgram(p, 'c', 5, 1, 'rw')).toBe(0);
    expect(runProgram(p, 'b', 5, 1, 'w')).toBe(1);
  });

  it('has no unreachable instructions (the verifier refuses them)', () => {
    // the spec's leading deny-all is the last block and ends the program
    const p = rules([{ allow: false, access: 'rwm' }]);
    const n = p.length / 8;
    expect(p.readUInt8((n - 1) * 8)).toBe(0x95);
    expect(p.readUInt8((n - 2) * 8)).toBe(0xb7);
    expect(p.readInt32LE((n - 2) * 8 + 4)).toBe(0);
    expect(p.readUInt8((n - 3) * 8)).toBe(0x95); // the block before it exits too: no epilogue after
    const all = deviceProgram([
      { allow: true, type: 'a', major: -1, minor: -1, access: 'rwm' },
      { allow: false, type: 'c', major: 1, minor: 1, access: 'rwm' },
    ]);
    expect(runProgram(all, 'c', 1, 1, 'r')).toBe(0);
    expect(runProgram(all, 'c', 1, 2, 'r')).toBe(1);
  });

  it('rejects rules it cannot express', () => {
    expect(() => deviceRules([{ allow: true, type: 'x', access: 'rwm' }])).toThrow(/devices\[0\]\.type/);
    expect(() => deviceRules([{ allow: true, access: 'rwx' }])).toThrow(/devices\[0\]\.access/);
  });

  it('writes v1 rules as the devices files read them', () => {
    expect(v1RuleText({ allow: true, type: 'c', major: 136, minor: -1, access: 'rwm' })).toBe('c 136:* rwm');
    expect(v1RuleText({ allow: false, type: 'a', major: -1, minor: -1, access: 'rwm' })).toBe('a');
    expect(DEFAULT_ALLOWED.some((r: DeviceRule) => r.major === 1 && r.minor === 3)).toBe(true);
  });
});

describe('linux.resources → cgroup files', () => {
  it('maps v1 resources in a working order', () => {
    const w = v1Writes(
      {
        memory: { limit: 1 << 26, swap: 1 << 27, reservation: 1 << 25 },
        cpu: { shares: 512, quota: 50000, period: 100000, cpus: '0' },
        pids: { limit: -1 },
      },
      { hasSwapAccounting: true, currentMemsw: 1 << 24 },
    );
    const files = w.map((x) => `${x.controller}/${x.file}=${x.value}`);
    // raising: memsw first, or the kernel refuses a limit above it
    expect(files.indexOf('memory/memory.memsw.limit_in_bytes=134217728')).toBeLessThan(
      files.indexOf('memory/memory.limit_in_bytes=67108864'),
    );
    expect(files).toContain('memory/memory.soft_limit_in_bytes=33554432');
    expect(files.indexOf('cpu/cpu.cfs_period_us=100000')).toBeLessThan(files.indexOf('cpu/cpu.cfs_quota_us=50000'));
    expect(files).toContain('cpu/cpu.shares=512');
    expect(files).toContain('cpuset/cpuset.cpus=0');
    expect(files).toContain('pids/pids.max=max');
  });

  it('lowers memsw after the limit when shrinking', () => {
    const w = v1Writes({ memory: { limit: 1 << 20, swap: 1 << 21 } }, { hasSwapAccounting: true, currentMemsw: 1 << 30 });
    expect(w.map((x) => x.file)).toEqual(['memory.limit_in_bytes', 'memory.memsw.limit_in_bytes']);
  });

  it('maps v2 resources with runc conversions', () => {
    const w = v2Writes({
      memory: { limit: 1 << 26, swap: 1 << 27 },
      cpu: { shares: 1024, quota: 50000, period: 100000 },
      pids: { limit: 10 },
      blockIO: { weight: 500, throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }] },
      unified: { 'memory.high': '1000000' },
    });
    const files = Object.fromEntries(w.map((x) => [x.file, x.value]));
    expect(files['memory.max']).toBe(String(1 << 26));
    expect(files['memory.swap.max']).toBe(String((1 << 27) - (1 << 26)));
    expect(files['cpu.max']).toBe('50000 100000');
    expect(files['cpu.weight']).toBe(String(sharesToWeight(1024)));
    expect(files['pids.max']).toBe('10');
    expect(files['io.max']).toBe('8:0 rbps=1048576');
    expect(files['memory.high']).toBe('1000000');
    expect(controllersFor(w).sort()).toEqual(['cpu', 'io', 'memory', 'pids']);
  });

  it('converts weights like runc and crun', () => {
    expect(sharesToWeight(2)).toBe(1);
    expect(sharesToWeight(1024)).toBe(39);
    expect(sharesToWeight(262144)).toBe(10000);
    expect(blkioToIoWeight(10)).toBe(1);
    expect(blkioToIoWeight(1000)).toBe(10000);
  });
});

describe('cgroupsPath', () => {
  it('defaults to /tcr/ID and keeps absolute and relative paths', () => {
    expect(resolveCgroupsPath(undefined, 'abc')).toBe('/tcr/abc');
    expect(resolveCgroupsPath('/a/b', 'x')).toBe('/a/b');
    expect(resolveCgroupsPath('a/b', 'x')).toBe('a/b');
    expect(() => resolveCgroupsPath('/a/../b', 'x')).toThrow(/\.\./);
  });

  it('maps systemd slice:prefix:name to a plain path when systemd does not run', () => {
    expect(resolveCgroupsPath('system.slice:tcr:abc', 'abc', false)).toBe('/system.slice/tcr-abc.scope');
    expect(resolveCgroupsPath('user-1000.slice:p:n', 'n', false)).toBe('/user.slice/user-1000.slice/p-n.scope');
  });

  it('keeps slice:prefix:name as a plain relative path where systemd runs, as runc does without --systemd-cgroup', () => {
    expect(resolveCgroupsPath('system.slice:tcr:abc', 'abc', true)).toBe('system.slice:tcr:abc');
  });
});

describe('linux.resources.network', () => {
  const network = {
    classID: 0x100001,
    priorities: [
      { name: 'lo', priority: 1 },
      { name: 'eth0', priority: 2 },
    ],
  };

  it('becomes net_cls.classid and one net_prio.ifpriomap write per interface on v1', () => {
    expect(v1Writes({ network }, { hasSwapAccounting: false })).toEqual([
      { controller: 'net_cls', file: 'net_cls.classid', value: String(0x100001), field: 'linux.resources.network.classID' },
      { controller: 'net_prio', file: 'net_prio.ifpriomap', value: 'lo 1', field: 'linux.resources.network.priorities[0]' },
      { controller: 'net_prio', file: 'net_prio.ifpriomap', value: 'eth0 2', field: 'linux.resources.network.priorities[1]' },
    ]);
  });

  it('has no v2 file (v2 has no such controller)', () => {
    expect(v2Writes({ network })).toEqual([]);
  });
});
