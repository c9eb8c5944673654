// The bridge device of a removed user network. The CNI bridge plugin makes a
// network's bridge on its first ADD and never removes it (containers come
// and go on it); `tcr network rm` does, with iproute2, once no interface is
// left on it, and drops the network's empty lease directory. A network with
// IPv6 has its bridge made by tcr before that first ADD, with duplicate
// address detection off: the plugin's gateway address is then usable at
// once, so aardvark-dns, started right after, can listen on it.
import fs from 'node:fs';
import path from 'node:path';
import { TcrError } from '../errors.js';
import { IPAM_DIR, type NetworkDef } from './networks.js';

/** Lease files are named by address; `lock` and `last_reserved_ip.N` are host-local's bookkeeping. */
function holdsLeases(dir: string): boolean {
  try {
    return fs.readdirSync(dir).some((f) => f !== 'lock' && !f.startsWith('last_reserved_ip'));
  } catch {
    return false;
  }
}

/** Before an ADD on a network with IPv6: its bridge, with accept_dad=0 on that bridge alone (the plugin takes a bridge that exists). */
export async function prepareBridge6(bridge: string): Promise<void> {
  const dad = `/proc/sys/net/ipv6/conf/${bridge}/accept_dad`;
  if (!fs.existsSync(path.join('/sys/class/net', bridge))) {
    const { spawnSync } = await import('node:child_process');
    const r = spawnSync('ip', ['link', 'add', bridge, 'type', 'bridge'], { encoding: 'utf8' });
    // another attach may have made it meanwhile
    if (r.status !== 0 && !fs.existsSync(path.join('/sys/class/net', bridge)))
      throw new TcrError(`ip link add ${bridge} type bridge: ${r.stderr.trim()}`);
  }
  if (fs.readFileSync(dad, 'utf8').trim() !== '0') fs.writeFileSync(dad, '0');
}

export async function removeBridge(def: NetworkDef): Promise<void> {
  const sys = path.join('/sys/class/net', def.bridge);
  if (fs.existsSync(sys)) {
    const ports = fs.existsSync(path.join(sys, 'brif')) ? fs.readdirSync(path.join(sys, 'brif')) : [];
    if (ports.length)
      throw new TcrError(
        `network ${def.name}: its bridge ${def.bridge} still has interfaces (${ports.join(', ')}): containers of another state root use it`,
      );
    const { spawnSync } = await import('node:child_process');
    const r = spawnSync('ip', ['link', 'delete', def.bridge, 'type', 'bridge'], { encoding: 'utf8' });
    if (r.status !== 0 && fs.existsSync(sys)) throw new TcrError(`network ${def.name}: ip link delete ${def.bridge}: ${r.stderr.trim()}`);
  }
  const leases = path.join(IPAM_DIR, def.name);
  if (fs.existsSync(leases) && !holdsLeases(leases)) fs.rmSync(leases, { recursive: true, force: true });
}
