// Runs a CNI network configuration list (the CNI spec's "conflist") the way
// libcni does: ADD through each plugin in order, each one handed the result
// of the one before as prevResult; DEL through them in reverse, handed the
// last result recorded. tcr does no netlink or iptables work of its own: the
// plugins Debian ships (containernetworking-plugins) make every device,
// address, route and rule, and undo them.
import fs from 'node:fs';
import path from 'node:path';
import { TcrError } from '../errors.js';

export interface CniPlugin {
  type: string;
  /** the runtime-supplied keys this plugin takes in runtimeConfig (portMappings, ...) */
  capabilities?: Record<string, boolean>;
  [key: string]: unknown;
}

export interface CniConfList {
  cniVersion: string;
  name: string;
  plugins: CniPlugin[];
}

/** The part of a CNI result tcr reads; the rest is passed on untouched. */
export interface CniResult {
  cniVersion?: string;
  interfaces?: { name: string; mac?: string; sandbox?: string }[];
  ips?: { address: string; gateway?: string; interface?: number }[];
  routes?: { dst: string; gw?: string }[];
  [key: string]: unknown;
}

export interface CniInvocation {
  /** unique per attachment: host-local leases and the plugins' iptables chains are keyed by it */
  containerId: string;
  /** the network namespace file (empty on a DEL whose namespace is gone) */
  netns: string;
  ifname: string;
  /** values for the plugins whose capabilities ask for them */
  runtimeConfig: Record<string, unknown>;
  /** an fd holding a flock, inherited by each plugin (as fd 3): a plugin that outlives a killed tcr
   *  still holds the lock, and the DEL that takes it waits for that plugin to finish */
  holdFd: number;
}

const SEARCH = ['/usr/lib/cni', '/opt/cni/bin'];

/** Where the plugins are: $TCR_CNI_PATH, else Debian's directory, else the upstream default. */
export function cniPath(): string {
  const env = process.env.TCR_CNI_PATH;
  if (env) return env;
  const dir = SEARCH.find((d) => fs.existsSync(path.join(d, 'bridge')));
  if (!dir)
    throw new TcrError(
      `--network: no CNI plugins in ${SEARCH.join(' or ')} (install the Debian package containernetworking-plugins, or set TCR_CNI_PATH)`,
    );
  return dir;
}

function pluginConfig(list: CniConfList, p: CniPlugin, inv: CniInvocation, prev: CniResult | undefined): string {
  const conf: Record<string, unknown> = { ...p, cniVersion: list.cniVersion, name: list.name };
  const rc: Record<string, unknown> = {};
  for (const [k, on] of Object.entries(p.capabilities ?? {})) if (on && inv.runtimeConfig[k] !== undefined) rc[k] = inv.runtimeConfig[k];
  if (Object.keys(rc).length) conf.runtimeConfig = rc;
  if (prev) conf.prevResult = prev;
  return JSON.stringify(conf);
}

async function invoke(
  command: 'ADD' | 'DEL',
  list: CniConfList,
  p: CniPlugin,
  inv: CniInvocation,
  prev: CniResult | undefined,
): Promise<string> {
  const { spawn } = await import('node:child_process');
  const dir = cniPath();
  const exe = path.join(dir, p.type);
  const env = {
    PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    CNI_COMMAND: command,
    CNI_CONTAINERID: inv.containerId,
    CNI_NETNS: inv.netns,
    CNI_IFNAME: inv.ifname,
    CNI_PATH: dir,
  };
  // a process group of its own: a ^C or a group kill aimed at tcr does not stop a plugin
  // halfway through its changes; killed alone, tcr leaves it to finish them
  const child = spawn(exe, [], { env, stdio: ['pipe', 'pipe', 'pipe', inv.holdFd], detached: true });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout!.on('data', (b: Buffer) => out.push(b));
  child.stderr!.on('data', (b: Buffer) => err.push(b));
  child.stdin!.end(pluginConfig(list, p, inv, prev));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', (e) => reject(new TcrError(`network ${list.name}: CNI plugin ${exe}: ${e.message}`)));
    child.once('close', (c) => resolve(c));
  });
  const stdout = Buffer.concat(out).toString();
  if (code !== 0) {
    // the plugin's error is a JSON object {code, msg, details} on stdout
    let msg = stdout.trim() || Buffer.concat(err).toString().trim();
    try {
      const e = JSON.parse(stdout) as { msg?: string; details?: string };
      msg = [e.msg, e.details].filter(Boolean).join(': ');
    } catch {
      // not JSON: the raw text
    }
    throw new TcrError(`network ${list.name}: CNI plugin ${p.type} ${command} failed (exit ${code}): ${msg}`);
  }
  return stdout;
}

/**
 * ADD through the chain. `progress` gets each plugin's result as soon as it
 * is known, so the caller can record it before the next plugin runs: a DEL
 * after a crash then has the addresses a plugin's own DEL needs.
 */
export async function cniAdd(list: CniConfList, inv: CniInvocation, progress: (r: CniResult) => void): Promise<CniResult> {
  let prev: CniResult | undefined;
  for (const p of list.plugins) {
    const text = await invoke('ADD', list, p, inv, prev);
    prev = JSON.parse(text) as CniResult;
    progress(prev);
  }
  return prev ?? {};
}

/**
 * DEL through the chain, last plugin first. Every plugin's DEL is tried even
 * when one fails (each is idempotent, per the CNI spec), then the first
 * failure is thrown: the caller keeps its record and a later DEL retries.
 */
export async function cniDel(list: CniConfList, inv: CniInvocation, prev: CniResult | undefined): Promise<void> {
  let first: Error | undefined;
  for (const p of [...list.plugins].reverse()) {
    try {
      await invoke('DEL', list, p, inv, prev);
    } catch (e) {
      first ??= e instanceof Error ? e : new Error(String(e));
    }
  }
  if (first) throw first;
}
