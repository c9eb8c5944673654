// Which nameservers a container's /etc/resolv.conf names, from its
// networks: on a user network aardvark-dns at that network's gateway (it
// answers the container's names and forwards the rest to the --dns servers
// or the host's); elsewhere the --dns servers, or the host's as docker
// copies them. `tcr network connect` and `disconnect` change it in place.
import fs from 'node:fs';
import path from 'node:path';
import { aardvarkPath } from './dns.js';
import { resolvConf } from './etc-files.js';
import { writeInPlace } from './hosts.js';
import { bridgeOf, type NetworkRecord } from './record.js';

/** The addresses aardvark answers on for a container on `n` (its IPv6 gateway too, as podman lists it), when it is a user network and aardvark is installed. */
export function dnsGateways(n: { shareNames: boolean; gateway: string; gateway6?: string }): string[] {
  return n.shareNames && aardvarkPath() ? [n.gateway, ...(n.gateway6 ? [n.gateway6] : [])] : [];
}

export function nameserversFor(all: NetworkRecord[], hostResolvConf: string): string[] {
  const named = all.find((a) => a.shareNames);
  const gws = named ? dnsGateways({ shareNames: true, ...bridgeOf(named) }) : [];
  if (gws.length) return gws;
  const dns = all[0]?.dnsServers ?? [];
  return resolvConf(hostResolvConf, { mode: 'private', dns, dnsSearch: [], dnsOption: [] })
    .split('\n')
    .filter((l) => l.startsWith('nameserver '))
    .map((l) => l.slice('nameserver '.length));
}

/** Rewrites the nameserver lines of the container's resolv.conf for its networks now, keeping search and options. */
export function pointResolver(all: NetworkRecord[]): void {
  if (!all.length) return;
  const file = path.join(path.dirname(all[0].hosts.file), 'resolv.conf');
  let text: string;
  let host = '';
  try {
    text = fs.readFileSync(file, 'utf8');
    host = fs.readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    return; // no etc files of tcr's (its directory went)
  }
  const lines = text.split('\n').filter((l) => l && !/^nameserver\s/.test(l));
  const servers = nameserversFor(all, host).map((s) => `nameserver ${s}`);
  const at = lines.findIndex((l) => !l.startsWith('search'));
  lines.splice(at < 0 ? lines.length : at, 0, ...servers);
  writeInPlace(file, lines.join('\n') + '\n');
}
