// What `tcr run --network MODE` needs before the container exists: the etc
// files, how the network namespace is had (new, the host's, or another
// container's), and for a bridge network the record that the runtime writes
// into the container's state before the attach (attach.ts) makes anything.
import fs from 'node:fs';
import path from 'node:path';
import { resolveContainer } from '../container/names.js';
import { TcrError } from '../errors.js';
import type { ContainerRecord, StateStore } from '../container/state-store.js';
import { deriveStatus } from '../container/status.js';
import type { Mount } from '../spec/types.js';
import { randomHex } from '../sys/random.js';
import { etcMounts, writeEtcFiles, type EtcFilesOptions } from './etc-files.js';
import { conflistFor, forwardFiltered, readNetwork, SPECIAL, type NetworkDef } from './networks.js';
import { parseIPv4 } from './ipv4.js';
import { exposedPorts, parsePublish, resolvePorts } from './ports.js';
import type { NetworkRecord, PortMapping } from './record.js';
import { dnsGateways } from './resolver.js';
import { SLIRP_DNS, SLIRP_GATEWAY, type SlirpPlan } from './slirp.js';

export interface NetworkFlags {
  /** bridge (default), host, none, container:NAME, or a network's name */
  network: string;
  publish: string[];
  publishAll?: boolean;
  dns: string[];
  dnsSearch: string[];
  dnsOption: string[];
  addHost: string[];
  networkAlias: string[];
}

export interface NetworkContext {
  id: string;
  hostname: string;
  /** the container's own directory, where its etc files go */
  dir: string;
  /** the image store's root (user networks are defined there) */
  storeRoot: string;
  state: StateStore;
  /** the image's ExposedPorts, for -P */
  exposed?: Record<string, object>;
  /** the directory of another image container, for --network container:NAME */
  dirOf: (id: string) => string;
  /** that container, when the caller has already looked it up (networkJoined) */
  joined?: ContainerRecord;
}

export interface PreparedNetwork {
  /** none: the host's network namespace; new: one of its own; else the path of the namespace to join */
  namespace: 'host' | 'new' | { path: string };
  mounts: Mount[];
  /** a container that joins another's network takes its host name, as in docker */
  hostname?: string;
  record?: NetworkRecord;
  /** an ordinary user's --network slirp4netns */
  slirp?: SlirpPlan;
}

function refuse(f: NetworkFlags, mode: string, what: string): void {
  if (f.publish.length || f.publishAll)
    throw new TcrError(`-p/-P: ports are published only on a bridge network; --network ${mode} has ${what}`);
  if (f.networkAlias.length) throw new TcrError(`--network-alias: names are shared only on a user network; --network ${mode} is not one`);
}

/**
 * The running container whose network `--network container:NAME` joins
 * (undefined for any other mode): `tcr run` looks it up before it makes
 * anything, since the new container takes its host name.
 */
export function networkJoined(f: Pick<NetworkFlags, 'network'>, state: StateStore): ContainerRecord | undefined {
  if (!f.network?.startsWith('container:')) return undefined;
  const other = f.network.slice('container:'.length);
  let rec;
  try {
    rec = state.read(resolveContainer(state.root, other)); // by a name rename gave it too
  } catch {
    throw new TcrError(`--network container:${other}: no such container`);
  }
  if (deriveStatus(rec, state) !== 'running') throw new TcrError(`--network container:${other}: the container is not running`);
  return rec;
}

function joinContainer(f: NetworkFlags, other: string, ctx: NetworkContext): PreparedNetwork {
  refuse(f, `container:${other}`, "that container's ports");
  if (f.dns.length || f.addHost.length)
    throw new TcrError(`--dns/--add-host: --network container:${other} uses that container's /etc/resolv.conf and /etc/hosts`);
  const rec = ctx.joined ?? networkJoined(f, ctx.state)!;
  const dir = ctx.dirOf(rec.id);
  const own = !fs.existsSync(path.join(dir, 'hosts')); // a bundle container has no etc files of tcr's
  if (own) writeEtcFiles(ctx.dir, { mode: 'private', hostname: ctx.hostname, dns: [], dnsSearch: [], dnsOption: [], addHost: [] });
  return { namespace: { path: `/proc/${rec.pid}/ns/net` }, mounts: etcMounts(own ? ctx.dir : dir), hostname: rec.config.hostname };
}

/** slirp4netns' own namespace: its DNS forwarder at 10.0.2.3 unless --dns names others, and -p through its API. */
async function slirpNetwork(f: NetworkFlags, ctx: NetworkContext, etc: Omit<EtcFilesOptions, 'mode'>): Promise<PreparedNetwork> {
  if (f.networkAlias.length) throw new TcrError('--network-alias: names are shared only on a user network; slirp4netns is not one');
  writeEtcFiles(ctx.dir, { ...etc, dns: f.dns.length ? f.dns : [SLIRP_DNS], mode: 'private', gateway: SLIRP_GATEWAY });
  const ports = await resolvePorts([...f.publish.flatMap(parsePublish), ...(f.publishAll ? exposedPorts(ctx.exposed) : [])]);
  const v6 = ports.find((m) => m.hostIP?.includes(':'));
  if (v6) throw new TcrError(`-p [${v6.hostIP}]:${v6.hostPort}: slirp4netns publishes on IPv4 addresses only`);
  return { namespace: 'new', mounts: etcMounts(ctx.dir), slirp: { ports } };
}

export async function prepareNetwork(f: NetworkFlags, ctx: NetworkContext): Promise<PreparedNetwork> {
  const etc = { hostname: ctx.hostname, dns: f.dns, dnsSearch: f.dnsSearch, dnsOption: f.dnsOption, addHost: f.addHost };
  if (f.network.startsWith('container:')) return joinContainer(f, f.network.slice('container:'.length), ctx);
  if (f.network === 'slirp4netns') return slirpNetwork(f, ctx, etc);
  if (SPECIAL.includes(f.network)) {
    refuse(f, f.network, f.network === 'host' ? "the host's ports already" : 'no ports');
    writeEtcFiles(ctx.dir, { ...etc, mode: f.network === 'host' ? 'host' : 'private' });
    return { namespace: f.network === 'host' ? 'host' : 'new', mounts: etcMounts(ctx.dir) };
  }
  const def = readNetwork(ctx.storeRoot, f.network);
  if (f.networkAlias.length && !def.shareNames)
    throw new TcrError(
      `--network-alias: names are shared only on a user network; ${def.name} is the default one (tcr network create NAME)`,
    );
  // on a user network aardvark-dns at the gateway answers, and forwards the rest to --dns or the host's servers
  const gws = dnsGateways({ ...def, gateway6: def.ipv6?.gateway });
  const base = writeEtcFiles(ctx.dir, { ...etc, ...(gws.length && { dns: gws }), mode: 'private', gateway: def.gateway });
  for (const d of f.dns) if (!d.includes(':')) parseIPv4(d, `--dns ${d}`);
  const portMappings = await resolvePorts([...f.publish.flatMap(parsePublish), ...(f.publishAll ? exposedPorts(ctx.exposed) : [])]);
  const v6 = portMappings.find((m) => m.hostIP?.includes(':'));
  if (v6 && !def.ipv6)
    throw new TcrError(
      `-p [${v6.hostIP}]:${v6.hostPort}: network ${def.name} has no IPv6 (tcr network create --ipv6); publish on an IPv4 address`,
    );
  const record = await attachmentRecord(def, ctx, { ifname: 'eth0', portMappings, aliases: f.networkAlias, base });
  if (f.dns.length) record.dnsServers = f.dns;
  return { namespace: 'new', mounts: etcMounts(ctx.dir), record };
}

/** The record of one attachment to `def` (the first, eth0, or one of `tcr network connect`), before anything of it exists. */
export async function attachmentRecord(
  def: NetworkDef,
  ctx: Pick<NetworkContext, 'id' | 'hostname' | 'dir' | 'state'>,
  o: { ifname: string; portMappings: PortMapping[]; aliases: string[]; base: string[] },
): Promise<NetworkRecord> {
  return {
    network: def.name,
    conflist: conflistFor(def, { publishes: o.portMappings.length > 0, firewall: await forwardFiltered(!!def.ipv6) }),
    cniId: `tcr-${ctx.id}-${randomHex(4)}`,
    ifname: o.ifname,
    netns: path.join(ctx.state.dir(ctx.id), 'netns'),
    portMappings: o.portMappings,
    hosts: { file: path.join(ctx.dir, 'hosts'), base: o.base, names: [...new Set([ctx.hostname, ctx.id, ...o.aliases])] },
    shareNames: def.shareNames,
  };
}
