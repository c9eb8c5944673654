// The iptables rules tcr keeps per bridge, not per container, as docker
// does: NAT to the outside (one MASQUERADE rule for the bridge's subnet, in
// the nat chain TCR-POSTROUTING) and isolation between tcr's networks (in
// the filter chain TCR-ISOLATION, jumped to first from FORWARD: what comes
// in from one tcr bridge and would leave by another is dropped, so a
// container on network A cannot reach one on B). The bridge plugin's own
// masquerading (ipMasq) makes a chain and rules per container on every ADD
// and removes them on every DEL, some ten iptables runs per container;
// these rules are made once, at a network's first attach, and removed by
// `tcr network rm`. A marker file per bridge, holding the boot's id, spares
// each later attach the iptables calls.
import fs from 'node:fs';
import path from 'node:path';
import { TcrError } from '../errors.js';
import { native } from '../sys/native.js';
import { bridgeOf, type NetworkRecord } from './record.js';

const CHAIN = 'TCR-ISOLATION';
const NAT_CHAIN = 'TCR-POSTROUTING';
const MARKS = '/run/tcr-net/isolation';

/** What a marker holds: the boot's id, and the rules' version (a marker of older rules is made again). */
function bootId(): string {
  return `${fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()} 2`;
}

async function iptables(args: string[]): Promise<{ ok: boolean; out: string; err: string }> {
  const { spawnSync } = await import('node:child_process');
  const r = spawnSync('iptables', ['-w', ...args], { encoding: 'utf8' });
  return { ok: r.status === 0, out: r.stdout ?? '', err: (r.stderr ?? '').trim() };
}

async function must(args: string[]): Promise<void> {
  const r = await iptables(args);
  if (!r.ok) throw new TcrError(`network rules: iptables ${args.join(' ')}: ${r.err}`);
}

/** An --internal network's bridge forwards nothing in or out (docker's rules for one), another's nothing to other tcr bridges. */
function rulesFor(bridge: string, internal: boolean): string[][] {
  const own = ['-i', bridge, '-o', bridge, '-j', 'RETURN'];
  if (internal) return [own, ['-i', bridge, '-j', 'DROP'], ['-o', bridge, '-j', 'DROP']];
  // tcr's bridges by name: tcr0 and the user networks' tcr-HEX (not every device whose name starts with tcr)
  const others = [
    ['-i', bridge, '-o', 'tcr-+', '-j', 'DROP'],
    ['-i', bridge, '-o', 'tcr0', '-j', 'DROP'],
  ];
  return [own, ...others.filter((r) => r[3] !== bridge)];
}

/** The subnet's traffic leaving by another device goes out as the host's address. */
function natRule(bridge: string, subnet: string): string[] {
  return ['-s', subnet, '!', '-o', bridge, '-j', 'MASQUERADE'];
}

export function isInternal(n: NetworkRecord): boolean {
  return (n.conflist.plugins[0] as { ipMasq?: boolean; tcrMasq?: boolean }).tcrMasq === false;
}

/** Whether tcr masquerades for this attachment's network (its bridge plugin then does not: conflistFor). */
function tcrMasquerades(n: NetworkRecord): boolean {
  return (n.conflist.plugins[0] as { tcrMasq?: boolean }).tcrMasq === true;
}

function subnetOf(n: NetworkRecord): string {
  const p = n.conflist.plugins[0] as { ipam?: { ranges?: { subnet?: string }[][] } };
  return p.ipam?.ranges?.[0]?.[0]?.subnet ?? '';
}

function withLock<T>(fn: () => Promise<T>): Promise<T> {
  fs.mkdirSync(MARKS, { recursive: true, mode: 0o755 });
  const fd = fs.openSync(`${MARKS}.lock`, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
  native().flock(fd, true);
  return fn().finally(() => fs.closeSync(fd));
}

/** FORWARD's first rule is the jump to the chain: the firewall plugin inserts its own at the top too, and accepts there. */
async function jumpFirst(): Promise<void> {
  const first = await iptables(['-S', 'FORWARD', '1']);
  if (first.out.trim() === `-A FORWARD -j ${CHAIN}`) return;
  while ((await iptables(['-C', 'FORWARD', '-j', CHAIN])).ok) await must(['-D', 'FORWARD', '-j', CHAIN]);
  await must(['-I', 'FORWARD', '1', '-j', CHAIN]);
}

async function ensureChain(table: string, chain: string, from: string): Promise<void> {
  if (!(await iptables(['-t', table, '-S', chain])).ok) await must(['-t', table, '-N', chain]);
  if (!(await iptables(['-t', table, '-C', from, '-j', chain])).ok) await must(['-t', table, '-A', from, '-j', chain]);
}

/** Called after an attachment's ADD (the firewall plugin's jump is in place by then). */
export async function ensureIsolation(n: NetworkRecord): Promise<void> {
  const { bridge } = bridgeOf(n);
  const mark = path.join(MARKS, bridge);
  const firewall = n.conflist.plugins.some((p) => p.type === 'firewall');
  try {
    if (!firewall && fs.readFileSync(mark, 'utf8') === bootId()) return;
  } catch {
    // not made since this boot
  }
  await withLock(async () => {
    if (!(await iptables(['-S', CHAIN])).ok) await must(['-N', CHAIN]);
    for (const r of rulesFor(bridge, isInternal(n))) if (!(await iptables(['-C', CHAIN, ...r])).ok) await must(['-A', CHAIN, ...r]);
    await jumpFirst();
    if (tcrMasquerades(n)) {
      await ensureChain('nat', NAT_CHAIN, 'POSTROUTING');
      const r = natRule(bridge, subnetOf(n));
      if (!(await iptables(['-t', 'nat', '-C', NAT_CHAIN, ...r])).ok) await must(['-t', 'nat', '-A', NAT_CHAIN, ...r]);
    }
    fs.writeFileSync(mark, bootId());
  });
}

/** `tcr network rm`: the bridge's rules go (the chains and their jumps stay, as the CNI plugins' chains do). */
export async function removeIsolation(bridge: string, subnet: string): Promise<void> {
  await withLock(async () => {
    for (const r of [...rulesFor(bridge, true), ...rulesFor(bridge, false)])
      while ((await iptables(['-C', CHAIN, ...r])).ok) await must(['-D', CHAIN, ...r]);
    const nat = natRule(bridge, subnet);
    while ((await iptables(['-t', 'nat', '-C', NAT_CHAIN, ...nat])).ok) await must(['-t', 'nat', '-D', NAT_CHAIN, ...nat]);
    fs.rmSync(path.join(MARKS, bridge), { force: true });
  });
}
