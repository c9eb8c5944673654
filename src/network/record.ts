// What a container's bridge networking is made of, kept in its state record
// (src/container/state-store.ts `ContainerRecord.network`), written before
// anything of it is made: `rm`, `delete --force` and the recovery after a
// crash undo exactly this, with the CNI configuration it was made with.
import type { CniConfList, CniResult } from './cni.js';

/** One published port, in the shape the CNI portmap plugin takes (runtimeConfig.portMappings). */
export interface PortMapping {
  hostPort: number;
  containerPort: number;
  protocol: 'tcp' | 'udp';
  hostIP?: string;
}

export interface NetworkRecord {
  /** the tcr network's name (`bridge`, or one made by `tcr network create`) */
  network: string;
  /** the CNI configuration list exactly as ADD ran it, so DEL undoes the same */
  conflist: CniConfList;
  /** CNI_CONTAINERID: unique per attachment, so two state roots never share a lease or a chain */
  cniId: string;
  ifname: string;
  /** a bind mount of the container's network namespace, so DEL still finds its interface (and the
   *  addresses the bridge plugin's NAT rules are keyed by) after the container's processes are gone */
  netns: string;
  portMappings: PortMapping[];
  /** the latest CNI result, recorded after each plugin's ADD */
  result?: CniResult;
  /** the container's /etc/hosts (a file bind-mounted in) and the names it is known by on the network */
  hosts: HostsRecord;
  /** on a user network, the other containers' names are written into this one's /etc/hosts and back,
   *  and aardvark-dns (dns.ts) answers for them on the network's gateway */
  shareNames: boolean;
  /** the --dns servers, which aardvark-dns forwards this container's other questions to */
  dnsServers?: string[];
  /** networks joined later by `tcr network connect` (eth1, ...), in the same pinned namespace;
   *  only the first attachment (eth0's) has this list */
  connected?: NetworkRecord[];
}

export interface HostsRecord {
  file: string;
  /** the lines that do not depend on addresses: localhost, --add-host */
  base: string[];
  /** host name first, then the container name and its --network-alias names */
  names: string[];
}

/** The container's IPv4 address on its network, once the bridge plugin gave one. */
export function addressOf(n: NetworkRecord): string | undefined {
  const ip = n.result?.ips?.find((i) => !i.address.includes(':'));
  return ip?.address.split('/')[0];
}

/** The container's IPv6 address, on a network made with --ipv6. */
export function address6Of(n: NetworkRecord): string | undefined {
  const ip = n.result?.ips?.find((i) => i.address.includes(':'));
  return ip?.address.split('/')[0];
}

/** Every attachment of a container: the one it was started on, then those of `tcr network connect`. */
export function attachmentsOf(n: NetworkRecord | undefined): NetworkRecord[] {
  return n ? [n, ...(n.connected ?? [])] : [];
}

/** The network's bridge device and gateways (the second range is the IPv6 one), as its CNI configuration names them. */
export function bridgeOf(n: NetworkRecord): { bridge: string; gateway: string; gateway6?: string } {
  const p = n.conflist.plugins[0] as { bridge?: string; ipam?: { ranges?: { gateway?: string }[][] } };
  const gateway6 = p.ipam?.ranges?.[1]?.[0]?.gateway;
  return { bridge: p.bridge ?? '', gateway: p.ipam?.ranges?.[0]?.[0]?.gateway ?? '', ...(gateway6 && { gateway6 }) };
}
