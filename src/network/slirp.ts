// An ordinary user's network, as rootless podman's default: slirp4netns
// gives the container's own network namespace a tap0 (10.0.2.100, gateway
// 10.0.2.2, DNS 10.0.2.3) and NATs it in user space. It is started at the
// init's start sync, when the namespace exists and runs nothing of the
// container's, and tied to the process that stays with the container (the
// foreground run, or the monitor of run -d) by --exit-fd: that process's end
// of the socket closing, at the container's exit, a crash or a kill, ends it.
// The API socket publishes the -p ports and is unlinked at once, so nothing
// of it stays on disk.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { TcrError } from '../errors.js';
import type { PortMapping } from './record.js';

export const SLIRP_DNS = '10.0.2.3';
export const SLIRP_GATEWAY = '10.0.2.2';

export interface SlirpPlan {
  ports: PortMapping[];
}

const running = new Map<string, { child: ChildProcess; exit: net.Socket }>();

/** The one request the API socket answers per connection: its `return`, or its `error` as a TcrError. */
function request(sock: string, body: object): Promise<void> {
  return new Promise((resolve, reject) => {
    let reply = '';
    const c = net.connect(sock);
    c.on('connect', () => c.write(JSON.stringify(body)));
    c.on('data', (d) => (reply += d.toString()));
    c.on('error', (e) => reject(new TcrError(`slirp4netns' API socket ${sock}: ${e.message}`)));
    c.on('close', () => {
      let r: { error?: { desc?: string } };
      try {
        r = JSON.parse(reply) as typeof r;
      } catch {
        return reject(new TcrError(`slirp4netns' API socket gave no answer (${JSON.stringify(reply)})`));
      }
      if (r.error) reject(new TcrError(r.error.desc ?? JSON.stringify(r.error)));
      else resolve();
    });
  });
}

/** Resolves once slirp4netns wrote to its --ready-fd (tap0 configured); rejects with its stderr if it ends first. */
function ready(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.once('error', (e) => reject(new TcrError(`slirp4netns: ${e.message} (is the slirp4netns package installed?)`)));
    child.once('exit', (code, sig) =>
      reject(new TcrError(`slirp4netns ended before it was ready (${sig ?? `exit status ${code}`}): ${err.trim()}`)),
    );
    (child.stdio[4] as net.Socket).once('data', () => resolve());
  });
}

/** slirp4netns for the init `pid` (waiting at its start sync), with the plan's ports published. */
export async function startSlirp(id: string, stateDir: string, pid: number, plan: SlirpPlan): Promise<void> {
  const sock = path.join(stateDir, 'slirp4netns.sock');
  fs.rmSync(sock, { force: true });
  // IPv6 on, as rootless podman's default (enable_ipv6=true): fd00::/64 by router advertisement, the default route via fe80::2
  const args = ['--configure', '--mtu=65520', '--disable-host-loopback', '--enable-ipv6'];
  args.push('--api-socket', sock, '--exit-fd', '3', '--ready-fd', '4');
  const child = spawn('slirp4netns', [...args, String(pid), 'tap0'], { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
  const exit = child.stdio[3] as net.Socket;
  running.set(id, { child, exit });
  try {
    await ready(child);
    for (const p of plan.ports) {
      const args = { proto: p.protocol, host_addr: p.hostIP ?? '0.0.0.0', host_port: p.hostPort, guest_port: p.containerPort };
      await request(sock, { execute: 'add_hostfwd', arguments: args }).catch((e: Error) => {
        const host = `${p.hostIP ?? '0.0.0.0'}:${p.hostPort}`;
        throw new TcrError(`-p ${host}:${p.containerPort}/${p.protocol}: slirp4netns: ${e.message} (is ${host} in use?)`, 125);
      });
    }
  } catch (e) {
    stopSlirp(id);
    throw e;
  } finally {
    fs.rmSync(sock, { force: true });
  }
  // neither keeps this process alive: it ends with the container, and slirp4netns with it
  child.removeAllListeners('exit');
  child.stderr!.destroy();
  (child.stdio[4] as net.Socket).destroy();
  child.unref();
  exit.unref();
}

/** The container ended (or its launch failed): closing the exit fd ends slirp4netns. */
export function stopSlirp(id: string): void {
  const s = running.get(id);
  if (!s) return;
  running.delete(id);
  s.exit.destroy();
  if (s.child.exitCode === null) s.child.kill();
}
