// The files docker writes for every container, kept in the container's
// directory and bind-mounted over the image's: /etc/hostname, /etc/hosts
// (its own name; on a user network the others', see hosts.ts) and
// /etc/resolv.conf (the host's, or --dns), so a container resolves names
// on every network mode, --network host included.
import fs from 'node:fs';
import path from 'node:path';
import { TcrError } from '../errors.js';
import type { Mount } from '../spec/types.js';
import { baseHosts } from './hosts.js';
import { formatIPv4, parseIPv4 } from './ipv4.js';

export interface EtcFilesOptions {
  /** host: the host's own hosts and resolv.conf; private: a network namespace of the container's */
  mode: 'host' | 'private';
  hostname: string;
  dns: string[];
  dnsSearch: string[];
  dnsOption: string[];
  addHost: string[];
  /** the network's gateway, what --add-host NAME:host-gateway names */
  gateway?: string;
}

/** --add-host NAME:IP (or NAME=IP); IP `host-gateway` is the network's gateway. */
export function parseAddHost(v: string, gateway: string | undefined): { name: string; ip: string } {
  const sep = /[=:]/.exec(v);
  const name = sep ? v.slice(0, sep.index) : '';
  const ip = sep ? v.slice(sep.index + 1) : '';
  if (!name || !ip) throw new TcrError(`--add-host ${JSON.stringify(v)}: give NAME:IP`);
  if (ip === 'host-gateway') {
    if (!gateway) throw new TcrError(`--add-host ${v}: host-gateway needs a bridge network (this container has none)`);
    return { name, ip: gateway };
  }
  // IPv6 as given (a colon form); IPv4 checked and normalised
  return { name, ip: ip.includes(':') ? ip : formatIPv4(parseIPv4(ip, `--add-host ${v}`)) };
}

function isLoopbackServer(ip: string): boolean {
  return ip.startsWith('127.') || ip === '::1';
}

/**
 * The host's resolv.conf with the flags' changes. In a namespace of its own
 * the container cannot reach a resolver on the host's loopback (a local
 * stub, as systemd-resolved's 127.0.0.53): those servers are left out, and
 * with none left docker's public fallback servers are used.
 */
export function resolvConf(host: string, o: Pick<EtcFilesOptions, 'mode' | 'dns' | 'dnsSearch' | 'dnsOption'>): string {
  const lines = host.split('\n').map((l) => l.trim());
  const field = (key: string) =>
    lines.filter((l) => l.startsWith(`${key} `) || l.startsWith(`${key}\t`)).map((l) => l.slice(key.length).trim());
  for (const d of o.dns) if (!d.includes(':')) parseIPv4(d, `--dns ${d}`);
  let servers = o.dns.length ? o.dns : field('nameserver');
  if (o.mode === 'private' && !o.dns.length) {
    servers = servers.filter((s) => !isLoopbackServer(s));
    if (!servers.length) servers = ['8.8.8.8', '8.8.4.4'];
  }
  const search = o.dnsSearch.length ? o.dnsSearch : field('search').flatMap((s) => s.split(/\s+/));
  const options = o.dnsOption.length ? o.dnsOption : field('options').flatMap((s) => s.split(/\s+/));
  return (
    [
      ...(search.length ? [`search ${search.join(' ')}`] : []),
      ...servers.map((s) => `nameserver ${s}`),
      ...(options.length ? [`options ${options.join(' ')}`] : []),
    ].join('\n') + '\n'
  );
}

function readOr(file: string, fallback: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return fallback;
  }
}

function bind(source: string, destination: string): Mount {
  return { destination, type: 'bind', source, options: ['rbind', 'rprivate', 'rw'] };
}

/** The bind mounts of already-written files (also those of the container whose network another joins). */
export function etcMounts(dir: string): Mount[] {
  return (['hostname', 'hosts', 'resolv.conf'] as const).map((f) => bind(path.join(dir, f), `/etc/${f}`));
}

/**
 * Writes hostname, hosts and resolv.conf into `dir`. Returns the hosts
 * lines that do not depend on addresses, from which a bridge network's
 * attach rewrites the file once the container has its address.
 */
export function writeEtcFiles(dir: string, o: EtcFilesOptions): string[] {
  const added = o.addHost.map((h) => parseAddHost(h, o.gateway));
  fs.writeFileSync(path.join(dir, 'hostname'), `${o.hostname}\n`);
  fs.writeFileSync(path.join(dir, 'resolv.conf'), resolvConf(readOr('/etc/resolv.conf', ''), o));
  const base = baseHosts(added);
  const hosts =
    o.mode === 'host'
      ? readOr('/etc/hosts', base.join('\n') + '\n') + added.map((h) => `${h.ip}\t${h.name}\n`).join('')
      : base.join('\n') + '\n';
  fs.writeFileSync(path.join(dir, 'hosts'), hosts, { mode: 0o644 });
  return base;
}
