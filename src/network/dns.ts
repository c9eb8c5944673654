// Name resolution by DNS on user networks, as podman's netavark does it: one
// aardvark-dns (Debian's, installed with podman) for every tcr network, run
// on port 53 of each network's gateway. Its configuration is a directory
// with a file per network (named by the network's bridge, unique per
// network): the addresses to listen on, then a line per container: a key
// (the same for each network the container is on, which is how aardvark
// scopes answers to the asker's networks), its addresses, its names, and its
// --dns servers. aardvark reads the host's resolv.conf for every other name.
// The first container started on a user network starts it, each change is
// a SIGHUP (aardvark reads the directory again), and when the last
// network's file is removed tcr stops it: no process stays without a
// container to answer for. A kill -9 of tcr in the middle leaves a file
// naming containers whose records still exist; the next change, rm's
// included, writes it again.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { TcrError, errnoCode } from '../errors.js';
import { native } from '../sys/native.js';
import { log } from '../log.js';

/** On the host's /run: every tcr state root on this host shares the one daemon (the gateways are the host's). */
export const DNS_DIR = '/run/tcr-net/dns';
const PID_FILE = 'aardvark.pid';
const SEARCH = ['/usr/lib/podman/aardvark-dns', '/usr/libexec/podman/aardvark-dns', '/usr/local/libexec/podman/aardvark-dns'];

export interface DnsEntry {
  /** the same for all a container's attachments (a hash of its namespace pin: unique per state root) */
  key: string;
  ipv4: string;
  /** on a network with IPv6: what aardvark answers AAAA questions with */
  ipv6?: string;
  /** the names it answers to: the container's name and its aliases on this network */
  names: string[];
  dnsServers: string[];
}

/** $TCR_AARDVARK_DNS, else where Debian's and upstream's podman put it. */
export function aardvarkPath(): string | undefined {
  const env = process.env.TCR_AARDVARK_DNS;
  if (env) return env;
  return SEARCH.find((p) => fs.existsSync(p));
}

export function entryKey(netnsPin: string): string {
  return createHash('sha256').update(netnsPin).digest('hex');
}

/** The file aardvark reads for one network: the addresses it listens on, then the entries. Names may not hold a space or comma (its separators); DNS names are case-blind. */
export function renderDnsConfig(gateways: string[], entries: DnsEntry[]): string {
  const lines = [gateways.join(',')];
  for (const e of entries) {
    // aardvark lowercases what it is asked, not what it reads
    const names = [...new Set(e.names.filter((n) => /^[^\s,]+$/.test(n)).map((n) => n.toLowerCase()))];
    if (names.length) lines.push([e.key, e.ipv4, e.ipv6 ?? '', names.join(','), e.dnsServers.join(',')].join(' '));
  }
  return lines.join('\n') + '\n';
}

/** aardvark's pid, if the pid file names a live aardvark of this directory (not a pid since reused). */
function runningPid(): number | undefined {
  let pid: number;
  try {
    pid = Number(fs.readFileSync(path.join(DNS_DIR, PID_FILE), 'utf8').trim());
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 1) return undefined;
  try {
    const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    if (argv.some((a) => a.endsWith('aardvark-dns')) && argv.includes(DNS_DIR)) return pid;
  } catch {
    // gone
  }
  return undefined;
}

/** Whether something listens on UDP GATEWAY:53 (aardvark binds each address after its start or a reload). */
function listening(gateway: string): boolean {
  const hex = gateway
    .split('.')
    .map((o) => Number(o).toString(16).padStart(2, '0'))
    .reverse()
    .join('')
    .toUpperCase();
  try {
    return fs.readFileSync('/proc/net/udp', 'utf8').includes(` ${hex}:0035 `);
  } catch {
    return false;
  }
}

async function until(ok: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}

function withDnsLock<T>(fn: () => Promise<T>): Promise<T> {
  fs.mkdirSync(DNS_DIR, { recursive: true, mode: 0o755 });
  // beside the directory, not in it: aardvark takes every file in it for a network's
  const fd = fs.openSync(`${DNS_DIR}.lock`, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
  native().flock(fd, true);
  return fn().finally(() => fs.closeSync(fd));
}

/** Written beside the directory and renamed in: a half-written file would stop aardvark (it refuses the whole set). */
function writeConfig(bridge: string, text: string): void {
  const tmp = `${DNS_DIR}.${bridge}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text, { mode: 0o644 });
  fs.renameSync(tmp, path.join(DNS_DIR, bridge));
}

/** The networks' files, less those of bridges gone (left by a store removed without rm): aardvark would hold their gateways. */
function networkFiles(): string[] {
  try {
    const files = fs.readdirSync(DNS_DIR).filter((f) => f !== PID_FILE);
    for (const f of files.filter((b) => !fs.existsSync(`/sys/class/net/${b}`))) fs.rmSync(path.join(DNS_DIR, f), { force: true });
    return files.filter((b) => fs.existsSync(path.join(DNS_DIR, b)));
  } catch {
    return [];
  }
}

async function stop(pid: number): Promise<void> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    // gone meanwhile
  }
  await until(() => runningPid() !== pid, 2000);
  fs.rmSync(path.join(DNS_DIR, PID_FILE), { force: true });
}

async function start(gateway: string): Promise<void> {
  const exe = aardvarkPath();
  if (!exe) throw new TcrError('no aardvark-dns (install the Debian package aardvark-dns, or set TCR_AARDVARK_DNS)');
  const { spawnSync } = await import('node:child_process');
  // it forks; the parent returns once the child wrote its pid file, and the child binds right after
  const r = spawnSync(exe, ['--config', DNS_DIR, '-p', '53', 'run'], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (r.status !== 0) throw new TcrError(`${exe} --config ${DNS_DIR} run: exit ${r.status}: ${r.stderr.trim()}`);
  if (!(await until(() => listening(gateway), 3000))) log.warn(`aardvark-dns: not listening on ${gateway}:53 yet`);
}

/**
 * Makes aardvark answer for `entries` on the network of `bridge` (none:
 * the network's file goes), starting it, telling it, or stopping it after
 * the last network. A failure is a warning: names still resolve through
 * /etc/hosts (hosts.ts), and the container runs.
 */
export async function updateDns(bridge: string, gateways: string[], entries: DnsEntry[]): Promise<void> {
  const gateway = gateways[0];
  try {
    await withDnsLock(async () => {
      if (entries.length) writeConfig(bridge, renderDnsConfig(gateways, entries));
      else fs.rmSync(path.join(DNS_DIR, bridge), { force: true });
      const pid = runningPid();
      if (!networkFiles().length) {
        if (pid) await stop(pid);
        return;
      }
      if (!pid) return start(gateway);
      process.kill(pid, 'SIGHUP');
      if (entries.length && !(await until(() => listening(gateway), 3000))) log.warn(`aardvark-dns: not listening on ${gateway}:53 yet`);
    });
  } catch (e) {
    if (errnoCode(e) === 'ESRCH') return;
    log.warn(`aardvark-dns for ${bridge}: ${(e as Error).message}; names still resolve through /etc/hosts`);
  }
}
