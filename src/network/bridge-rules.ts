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
// each later attach the iptables calls. A network with IPv6 gets the same
// chains and rules in ip6tables, for its IPv6 subnet.
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

type Tool = 'iptables' | 'ip6tables';

interface Rules {
  run(args: string[]): Promise<{ ok: boolean; out: string; err: string }>;
  must(args: string[]): Promise<void>;
}

function rulesTool(tool: Tool): Rules {
  const run = async (args: string[]) => {
    const { spawnSync } = await import('node:child_process');
    const r = spawnSync(tool, ['-w', ...args], { encoding: 'utf8' });
    return { ok: r.status === 0, out: r.stdout ?? '', err: (r.stderr ?? '').trim() };
  };
  const must = async (args: string[]) => {
    const r = await run(args);
    if (!r.ok) throw new TcrError(`network rules: ${tool} ${args.join(' ')}: ${r.err}`);
  };
  return { run, must };
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

/** The subnet of each family: the first range set is IPv4, a second one (--ipv6) IPv6. */
function subnetsOf(n: NetworkRecord): { tool: Tool; subnet: string }[] {
  const p = n.conflist.plugins[0] as { ipam?: { ranges?: { subnet?: string }[][] } };
  const [v4, v6] = (p.ipam?.ranges ?? []).map((r) => r[0]?.subnet ?? '');
  return [{ tool: 'iptables' as const, subnet: v4 ?? '' }, ...(v6 ? [{ tool: 'ip6tables' as const, subnet: v6 }] : [])];
}

function withLock<T>(fn: () => Promise<T>): Promise<T> {
  fs.mkdirSync(MARKS, { recursive: true, mode: 0o755 });
  const fd = fs.openSync(`${MARKS}.lock`, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
  native().flock(fd, true);
  return fn().finally(() => fs.closeSync(fd));
}

/** FORWARD's first rule is the jump to the chain: the firewall plugin inserts its own at the top too, and accepts there. */
async function jumpFirst(t: Rules): Promise<void> {
  const first = await t.run(['-S', 'FORWARD', '1']);
  if (first.out.trim() === `-A FORWARD -j ${CHAIN}`) return;
  while ((await t.run(['-C', 'FORWARD', '-j', CHAIN])).ok) await t.must(['-D', 'FORWARD', '-j', CHAIN]);
  await t.must(['-I', 'FORWARD', '1', '-j', CHAIN]);
}

async function ensureChain(t: Rules, table: string, chain: string, from: string): Promise<void> {
  if (!(await t.run(['-t', table, '-S', chain])).ok) await t.must(['-t', table, '-N', chain]);
  if (!(await t.run(['-t', table, '-C', from, '-j', chain])).ok) await t.must(['-t', table, '-A', from, '-j', chain]);
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
    for (const { tool, subnet } of subnetsOf(n)) {
      const t = rulesTool(tool);
      if (!(await t.run(['-S', CHAIN])).ok) await t.must(['-N', CHAIN]);
      for (const r of rulesFor(bridge, isInternal(n))) if (!(await t.run(['-C', CHAIN, ...r])).ok) await t.must(['-A', CHAIN, ...r]);
      await jumpFirst(t);
      if (!tcrMasquerades(n)) continue;
      await ensureChain(t, 'nat', NAT_CHAIN, 'POSTROUTING');
      const r = natRule(bridge, subnet);
      if (!(await t.run(['-t', 'nat', '-C', NAT_CHAIN, ...r])).ok) await t.must(['-t', 'nat', '-A', NAT_CHAIN, ...r]);
    }
    fs.writeFileSync(mark, bootId());
  });
}

/** `tcr network rm`: the bridge's rules go, of each family it had (the chains and their jumps stay, as the CNI plugins' chains do). */
export async function removeIsolation(bridge: string, subnet: string, subnet6?: string): Promise<void> {
  await withLock(async () => {
    const families = [
      { t: rulesTool('iptables'), nat: natRule(bridge, subnet) },
      ...(subnet6 ? [{ t: rulesTool('ip6tables'), nat: natRule(bridge, subnet6) }] : []),
    ];
    for (const { t, nat } of families) {
      for (const r of [...rulesFor(bridge, true), ...rulesFor(bridge, false)])
        while ((await t.run(['-C', CHAIN, ...r])).ok) await t.must(['-D', CHAIN, ...r]);
      while ((await t.run(['-t', 'nat', '-C', NAT_CHAIN, ...nat])).ok) await t.must(['-t', 'nat', '-D', NAT_CHAIN, ...nat]);
    }
    fs.rmSync(path.join(MARKS, bridge), { force: true });
  });
}
