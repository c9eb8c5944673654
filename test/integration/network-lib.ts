// Helpers of the network tests: a private store with the demo image (and a
// copy of it that EXPOSEs a port), free ports and subnets, and the leftover
// checks (veths, namespace pins, iptables rules, leases) after a container.
import { createHash } from 'node:crypto';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { DEMO, REPO, Sandbox, mountsUnder } from '../helpers.js';

export const OCI = path.join(REPO, 'demo', 'busybox-oci');
export const IPAM = '/run/tcr-net/ipam';
export const haveCni = fs.existsSync('/usr/lib/cni/bridge') && spawnSync('iptables', ['-w', '-S', 'FORWARD']).status === 0;

export function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** A copy of the demo layout with its image config's `config` changed by `edit` (another image id: digests made again). */
export function editedLayout(dir: string, edit: (config: Record<string, unknown>) => Record<string, unknown>): string {
  fs.cpSync(OCI, dir, { recursive: true });
  const blob = (d: string) => path.join(dir, 'blobs', 'sha256', d.replace('sha256:', ''));
  const put = (text: string) => {
    const d = createHash('sha256').update(text).digest('hex');
    fs.writeFileSync(path.join(dir, 'blobs', 'sha256', d), text);
    return { digest: `sha256:${d}`, size: Buffer.byteLength(text) };
  };
  const index = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8'));
  const manifest = JSON.parse(fs.readFileSync(blob(index.manifests[0].digest), 'utf8'));
  const config = JSON.parse(fs.readFileSync(blob(manifest.config.digest), 'utf8'));
  config.config = edit(config.config ?? {});
  Object.assign(manifest.config, put(JSON.stringify(config)));
  Object.assign(index.manifests[0], put(JSON.stringify(manifest)));
  fs.writeFileSync(path.join(dir, 'index.json'), JSON.stringify(index));
  return dir;
}

/** A copy of the demo layout whose image config EXPOSEs 80/tcp. */
export function exposingLayout(dir: string): string {
  return editedLayout(dir, (c) => ({ ...c, ExposedPorts: { '80/tcp': {} } }));
}

export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const p = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return p;
}

/**
 * A test's last resort when `tcr network rm` failed: the bridge goes, and
 * with it the rules tcr made for it (isolation, NAT), of both families, so
 * that a failed test leaves no rule for a later one on the same subnet.
 */
export function dropBridge(bridge: string | undefined): void {
  if (!bridge || !fs.existsSync(`/sys/class/net/${bridge}`)) return;
  spawnSync('ip', ['link', 'delete', bridge]);
  for (const tool of ['iptables', 'ip6tables'])
    for (const [table, chain] of [
      ['filter', 'TCR-ISOLATION'],
      ['nat', 'TCR-POSTROUTING'],
    ]) {
      const rules = spawnSync(tool, ['-w', '-t', table, '-S', chain], { encoding: 'utf8' }).stdout ?? '';
      for (const line of rules.split('\n')) {
        const words = line.split(' ');
        if (words[0] === '-A' && words.includes(bridge)) spawnSync(tool, ['-w', '-t', table, '-D', ...words.slice(1)]);
      }
    }
}

/** A 10.89.N.0/24 (N from `from` up) that no route of the host is in. */
export function freeSubnet(from: number): string {
  const routes = sh('ip', ['-4', 'route', 'show', 'table', 'all']);
  for (let n = from; n < 255; n++) if (!routes.includes(`10.89.${n}.`)) return `10.89.${n}.0/24`;
  throw new Error('no free 10.89.N.0/24');
}

/** An HTTP GET from the host, by node (the host may have no curl). */
export async function httpGet(url: string): Promise<string> {
  const http = await import('node:http');
  return new Promise((resolve, reject) => {
    http
      .get(url, { timeout: 5000 }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve(body));
      })
      .on('error', reject);
  });
}

/** Polls `fn` until it does not throw (a server in a container takes a moment to listen). */
export async function eventually<T>(fn: () => Promise<T>, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() > end) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** What a container's state record says of its networking (read before it is removed). */
export interface Attachment {
  address?: string;
  /** its IPv6 address, on a network made with --ipv6 */
  address6?: string;
  /** the host end of its veth pair */
  veth?: string;
}

/** The IPv6 address in a CNI result (the second range's, on a network with --ipv6). */
export function address6In(result: { ips?: { address: string }[] } | undefined): string | undefined {
  return result?.ips?.find((i) => i.address.includes(':'))?.address.split('/')[0];
}

export function attachmentOf(sb: Sandbox, id: string): Attachment {
  const rec = JSON.parse(fs.readFileSync(path.join(sb.root, id, 'state.json'), 'utf8'));
  const result = rec.network?.result;
  return {
    address: result?.ips?.[0]?.address.split('/')[0],
    address6: address6In(result),
    veth: result?.interfaces?.find((i: { name: string; sandbox?: string }) => !i.sandbox && i.name.startsWith('veth'))?.name,
  };
}

/**
 * What a container's networking could leave: iptables and ip6tables rules that
 * name its CNI id (`tcr-ID-...`) or its addresses, lease files of its id, its veth, the
 * ports of a bridge only this test uses, and its mounts (namespace pin, root).
 */
export function leftovers(sb: Sandbox, id: string, a: Attachment, ownBridge?: string): string[] {
  const ip = a.address && new RegExp(`[^\\d.]${a.address.replace(/\./g, '\\.')}[^\\d]`);
  const rules = sh('iptables-save', [])
    .split('\n')
    .filter((l) => l.includes(`"tcr-${id}-`) || (ip && ip.test(l)));
  // an IPv6 address is written compressed by ip6tables-save, as in the CNI result; bounded by what cannot be in one
  const ip6 = a.address6 && new RegExp(`[^0-9a-f:]${a.address6}[^0-9a-f:]`);
  rules.push(
    ...sh('ip6tables-save', [])
      .split('\n')
      .filter((l) => l.includes(`"tcr-${id}-`) || (ip6 && ip6.test(l)))
      .map((l) => `ip6tables: ${l}`),
  );
  const leases: string[] = [];
  for (const netName of fs.existsSync(IPAM) ? fs.readdirSync(IPAM) : []) {
    for (const f of fs.readdirSync(path.join(IPAM, netName))) {
      const file = path.join(IPAM, netName, f);
      if (fs.readFileSync(file, 'utf8').startsWith(`tcr-${id}-`)) leases.push(file);
    }
  }
  const veth = a.veth && fs.existsSync(`/sys/class/net/${a.veth}`) ? [`veth ${a.veth}`] : [];
  const brif = ownBridge ? path.join('/sys/class/net', ownBridge, 'brif') : '';
  const ports = brif && fs.existsSync(brif) ? fs.readdirSync(brif).map((v) => `${v} on ${ownBridge}`) : [];
  const mounts = mountsUnder(sb.dir).filter((m) => m.includes(`/${id}/`) || m.endsWith(`/${id}`));
  return [...rules, ...leases, ...veth, ...ports, ...mounts];
}

/**
 * "The outside": a network namespace of the test's own behind a veth on a
 * free 10.89.N.0/24 (N from `from` up), with no route back to any bridge, and
 * busybox httpd on its port 8080 serving `page`. Only an answer that went
 * through the host's NAT can reach a container.
 */
export interface Outside {
  /** the address of the outside namespace */
  address: string;
  /** its name, for `ip -n` */
  ns: string;
  stop(): void;
}

export function outsideHost(name: string, from: number, wwwDir: string, page: string): Outside {
  const ns = `${name}${process.pid}`;
  const hostIf = `${name.slice(0, 5)}${process.pid % 100000}`;
  const prefix = freeSubnet(from).replace(/0\/24$/, '');
  let server: ChildProcess | undefined;
  const stop = () => {
    server?.kill('SIGKILL');
    spawnSync('ip', ['link', 'delete', hostIf]);
    spawnSync('ip', ['netns', 'delete', ns]);
  };
  try {
    sh('ip', ['netns', 'add', ns]);
    sh('ip', ['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    sh('ip', ['addr', 'add', `${prefix}1/24`, 'dev', hostIf]);
    sh('ip', ['link', 'set', hostIf, 'up']);
    sh('ip', ['-n', ns, 'addr', 'add', `${prefix}2/24`, 'dev', 'eth0']);
    sh('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
    fs.mkdirSync(wwwDir, { recursive: true });
    fs.writeFileSync(path.join(wwwDir, 'index.html'), page);
    const busybox = path.join(DEMO, 'rootfs', 'bin', 'busybox');
    server = spawn('ip', ['netns', 'exec', ns, busybox, 'httpd', '-f', '-p', '8080', '-h', wwwDir], { stdio: 'ignore' });
  } catch (e) {
    stop();
    throw e;
  }
  return { address: `${prefix}2`, ns, stop };
}
