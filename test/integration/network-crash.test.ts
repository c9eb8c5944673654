// docs/ARCHITECTURE.md, "Crash safety", for bridge networking: `tcr run` on
// a bridge network killed -9 at spread-out moments (before, during and after
// the CNI ADD), and `tcr rm -f` killed -9 during its DEL, then `tcr rm -f`
// again: no veth, namespace pin, iptables rule or lease of the container may
// stay, and its state directory goes. The network is a user one, so
// aardvark-dns is started, told and stopped all along: once the last
// container is removed, neither its entries nor the daemon may stay.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Sandbox, isRoot, lacks, pidsWithRootUnder } from '../helpers.js';
import { killedAfter, type KillMoment } from './lib.js';
import { OCI, address6In, freeSubnet, haveCni, leftovers, type Attachment } from './network-lib.js';

describe.skipIf(lacks(isRoot && fs.existsSync(OCI) && haveCni))('network crash safety', () => {
  const sb = new Sandbox('tcr-netcrash');
  const store = path.join(sb.dir, 'store');
  const g = ['--root', sb.root, '--store', store];
  const tcr = (args: string[]) => sb.tcr(['--store', store, ...args]);
  const net = `tcrcrash${process.pid}`;
  let bridge = '';

  beforeAll(() => {
    expect(tcr(['import', '-q', OCI, 'busybox']).status).toBe(0);
    const v6 = `fd7c:1c:${(process.pid % 0xffff).toString(16)}:c::/64`;
    expect(tcr(['network', 'create', '--ipv6', '--subnet', freeSubnet(210), '--subnet', v6, net]).stderr).toBe('');
    bridge = JSON.parse(tcr(['network', 'inspect', net]).stdout)[0].Bridge;
  });
  afterAll(() => {
    for (const id of fs.existsSync(sb.root) ? fs.readdirSync(sb.root).filter((i) => !i.startsWith('.')) : []) tcr(['rm', '-f', id]);
    tcr(['network', 'rm', net]);
    sb.cleanup();
  });

  /** What aardvark-dns holds for the test's network: its entries file, and the daemon when no other network has one. */
  const dnsLeftovers = (): string[] => {
    const dir = '/run/tcr-net/dns';
    const left = fs.existsSync(path.join(dir, bridge)) ? [`${dir}/${bridge}`] : [];
    const others = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f !== 'aardvark.pid') : [];
    if (!others.length && fs.existsSync(path.join(dir, 'aardvark.pid'))) {
      const pid = fs.readFileSync(path.join(dir, 'aardvark.pid'), 'utf8').trim();
      if (fs.existsSync(`/proc/${pid}/cmdline`) && fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('aardvark'))
        left.push(`aardvark ${pid}`);
    }
    return left;
  };

  /**
   * Waits (up to 4 s) until no monitor of container `id` runs: the process whose stdout is its monitor.log
   * (its title is not its argv). One that answered its starter before the kill stays with its container.
   */
  const monitorGone = async (id: string) => {
    const log = path.join(store, 'containers', id, 'monitor.log');
    const mine = (pid: string) => {
      try {
        return fs.readlinkSync(`/proc/${pid}/fd/1`) === log;
      } catch {
        return false;
      }
    };
    for (let i = 0; i < 40 && fs.readdirSync('/proc').some((p) => /^\d+$/.test(p) && mine(p)); i++)
      await new Promise((r) => setTimeout(r, 100));
  };

  /** What the record names, when there is one (a run killed before it was written has none). */
  const attachment = (id: string): Attachment => {
    try {
      const rec = JSON.parse(fs.readFileSync(path.join(sb.root, id, 'state.json'), 'utf8'));
      return { address: rec.network?.result?.ips?.[0]?.address.split('/')[0], address6: address6In(rec.network?.result) };
    } catch {
      return {};
    }
  };

  it('leaves nothing when run is killed -9 at a random moment, once rm -f has run', async () => {
    const pinned = (id: string) => () => fs.existsSync(path.join(sb.root, id, 'netns'));
    // node's start-up is ~150 ms; the attach follows: spread the kills from before it to after it. On a loaded machine
    // the attach comes later than all of these, so some kills are timed from the namespace pin: they land between the
    // attach and the answer to the starter, whatever the load
    const timed = Array.from({ length: 14 }, (_, k) => 120 + ((k * 53) % 500));
    const afterPin = [0, 30, 100, 250];
    const rounds = timed.length + afterPin.length;
    const moment = (id: string, i: number): KillMoment =>
      i < timed.length ? timed[i] : { when: pinned(id), then: afterPin[i - timed.length] };
    let killed = 0;
    let attachedWhenKilled = 0;
    for (let i = 0; i < rounds; i++) {
      const id = `crun${i}`;
      // what the run had done as the kill landed: its monitor tears an abandoned launch down after (pin, record and all)
      let pinnedAtKill = false;
      let atKill: Attachment = {};
      const wasKilled = await killedAfter(
        [...g, 'run', '-d', '--name', id, '--network', net, '-p', `${23000 + i}:80`, 'busybox', 'sleep', '60'],
        moment(id, i),
        () => {
          pinnedAtKill = pinned(id)();
          atKill = attachment(id);
        },
      );
      if (wasKilled) {
        killed++;
        if (pinnedAtKill) attachedWhenKilled++;
        // a run killed after it spawned the container's monitor: the monitor launches nothing, or tears its launch
        // down once it sees its starter gone (src/run/monitor.ts); what is left is then what rm -f must remove
        await monitorGone(id);
      }
      const now = attachment(id);
      const a = now.address ? now : atKill;
      if (fs.existsSync(path.join(sb.root, id))) {
        const rm = tcr(['rm', '-f', id]);
        expect(rm.stderr).toBe('');
      }
      expect(fs.existsSync(path.join(sb.root, id))).toBe(false);
      expect(leftovers(sb, id, a, bridge)).toEqual([]);
    }
    expect(killed).toBeGreaterThan(0);
    // some kills landed after the namespace was pinned (looked at as each kill was sent): the DEL path after a crash was exercised
    expect(attachedWhenKilled).toBeGreaterThan(0);
    expect(pidsWithRootUnder(sb.dir)).toEqual([]);
    expect(dnsLeftovers()).toEqual([]);
  }, 240_000);

  it('leaves nothing when rm -f is killed -9 during its DEL, once rm -f has run again', async () => {
    // a container that stays all along: each rm's kill lands while the daemon answers for it
    expect(tcr(['run', '-d', '--name', 'stayer', '--network', net, 'busybox', 'sleep', '120']).stderr).toBe('');
    for (let i = 0; i < 6; i++) {
      const id = `crm${i}`;
      expect(tcr(['run', '-d', '--name', id, '--network', net, 'busybox', 'sleep', '60']).stderr).toBe('');
      const a = attachment(id);
      expect(a.address).toBeDefined();
      await killedAfter([...g, 'rm', '-f', id], 150 + i * 40);
      if (fs.existsSync(path.join(sb.root, id))) expect(tcr(['rm', '-f', id]).stderr).toBe('');
      expect(fs.existsSync(path.join(sb.root, id))).toBe(false);
      expect(leftovers(sb, id, a)).toEqual([]);
      expect(fs.readFileSync(`/run/tcr-net/dns/${bridge}`, 'utf8')).not.toContain(` ${a.address} `);
    }
    expect(tcr(['rm', '-f', 'stayer']).stderr).toBe('');
    expect(dnsLeftovers()).toEqual([]);
  }, 120_000);
});
