// Isolation between tcr's bridge networks, as docker's DOCKER-ISOLATION
// chains do it: what comes in from one tcr bridge and would be forwarded out
// of another is dropped, so a container on network A cannot reach one on B,
// while both still reach the outside through NAT. The CNI plugins have no
// such rule, so tcr keeps a chain of its own, TCR-ISOLATION, jumped to first
// from FORWARD, with two rules per bridge (its own traffic returns, to any
// other tcr bridge drops). They name bridges, not containers: made at a
// network's first attach, removed by `tcr network rm`. A marker file per
// bridge, holding the boot's id, spares each later attach its iptables calls.
import fs from 'node:fs';
import path from 'node:path';
import { TcrError } from '../errors.js';
import { native } from '../sys/native.js';
import { bridgeOf, type NetworkRecord } from './record.js';

const CHAIN = 'TCR-ISOLATION';
const MARKS = '/run/tcr-net/isolation';

function bootId(): string {
  return fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
}

async function iptables(args: string[]): Promise<{ ok: boolean; out: string; err: string }> {
  const { spawnSync } = await import('node:child_process');
  const r = spawnSync('iptables', ['-w', ...args], { encoding: 'utf8' });
  return { ok: r.status === 0, out: r.stdout ?? '', err: (r.stderr ?? '').trim() };
}

async function must(args: string[]): Promise<void> {
  const r = await iptables(args);
  if (!r.ok) throw new TcrError(`network isolation: iptables ${args.join(' ')}: ${r.err}`);
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

export function isInternal(n: NetworkRecord): boolean {
  return (n.conflist.plugins[0] as { ipMasq?: boolean }).ipMasq === false;
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
    fs.writeFileSync(mark, bootId());
  });
}

/** `tcr network rm`: the bridge's rules go (the chain and its jump stay, as the CNI plugins' chains do). */
export async function removeIsolation(bridge: string): Promise<void> {
  await withLock(async () => {
    for (const r of [...rulesFor(bridge, true), ...rulesFor(bridge, false)])
      while ((await iptables(['-C', CHAIN, ...r])).ok) await must(['-D', CHAIN, ...r]);
    fs.rmSync(path.join(MARKS, bridge), { force: true });
  });
}
