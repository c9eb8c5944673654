// Shared scaffolding for the end-to-end tests with the real clients (podman,
// containerd): the two runtime lanes (tcr, and runc as the control), a
// wrapper per lane that records every call the client makes, ttys through
// script(1), and cleanup of what the clients leave on the host.
import { spawn, spawnSync, type ChildProcess, type SpawnSyncOptions } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { TCR, mountsUnder } from '../helpers.js';
import { removeCgroupTree } from './cri/cgroups.js';

export interface Result {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Absolute path of a command on $PATH (plus the sbin dirs), or undefined. */
export function which(cmd: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/local/sbin', '/usr/sbin', '/sbin'];
  for (const d of dirs) {
    const p = path.join(d, cmd);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

export const RUNC = which('runc');

export interface Lane {
  name: 'tcr' | 'runc';
  /** the runtime binary itself */
  bin: string;
}

/** tcr, and runc as the control: every test runs once per lane. */
export const LANES: Lane[] = [
  { name: 'tcr', bin: TCR },
  { name: 'runc', bin: RUNC ?? '/usr/sbin/runc' },
];

export function run(cmd: string, args: string[], opts: SpawnSyncOptions = {}): Result {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000, maxBuffer: 64 << 20, ...opts });
  if (r.error && (r.error as NodeJS.ErrnoException).code !== 'ETIMEDOUT') throw r.error;
  return { status: r.status, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
}

export function shellQuote(a: string): string {
  return /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}

/** Runs argv under script(1), which gives it a pty as its stdin/stdout (for -t). */
export function withTty(argv: string[], env?: NodeJS.ProcessEnv): Result {
  return run('script', ['-qec', argv.map(shellQuote).join(' '), '/dev/null'], { env, input: '' });
}

/**
 * A wrapper named like the lane's runtime (clients name a runtime by its
 * file name: podman looks it up in runtime_supports_json) that appends each
 * call's arguments to `log` and execs the real binary with `prefix` first.
 * With `withStatus` it runs the binary as its child instead and appends the
 * call once it has ended, as `ARGS => STATUS START_NS END_NS` (see
 * statusOf and timeOf).
 */
export function writeRuntimeWrapper(dir: string, lane: Lane, log: string, prefix: string[] = [], withStatus = false): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, lane.name);
  const argv = [lane.bin, ...prefix].map(shellQuote).join(' ');
  fs.writeFileSync(
    file,
    [
      '#!/bin/sh',
      ...(withStatus
        ? [
            't0=$(date +%s%N)',
            `${argv} "$@"`,
            'rc=$?',
            `printf '%s => %s %s %s\\n' "$*" "$rc" "$t0" "$(date +%s%N)" >> ${shellQuote(log)}`,
            'exit $rc',
          ]
        : [`printf '%s\\n' "$*" >> ${shellQuote(log)}`, `exec ${argv} "$@"`]),
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  return file;
}

const STATUS = / => (\d+) (\d+) (\d+)$/;

/** The exit status a status-recording wrapper logged for a call, or undefined. */
export function statusOf(call: string): number | undefined {
  const m = STATUS.exec(call);
  return m ? Number(m[1]) : undefined;
}

/** When a status-recording wrapper saw a call start (ms since the epoch) and how long it ran (ms). */
export function timeOf(call: string): { start: number; ms: number } | undefined {
  const m = STATUS.exec(call);
  return m ? { start: Number(BigInt(m[2]) / 1000n) / 1000, ms: Number(BigInt(m[3]) - BigInt(m[2])) / 1e6 } : undefined;
}

/** The calls a wrapper recorded, one argument string per call. */
export function calls(log: string): string[] {
  return fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').filter(Boolean) : [];
}

/** The command of a recorded runtime call: the first word after the global flags. */
export function commandOf(call: string): string {
  const words = call.split(' ');
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    if (!w.startsWith('--')) return w;
    if (!w.includes('=') && ['--root', '--log', '--log-format', '--criu', '--rootless'].includes(w)) i++;
  }
  return '';
}

/** Lazily unmounts every mount point below dir, deepest first. */
export function unmountUnder(dir: string): void {
  for (const m of mountsUnder(dir).sort((a, b) => b.length - a.length)) run('umount', ['-l', m]);
}

/** Removes the cgroup `rel` (and everything below it) from every mounted hierarchy. */
export function removeCgroup(rel: string): void {
  removeCgroupTree(`/${rel.replace(/^\/+/, '')}`);
}

/** Directories a client may create on the host outside its private dirs. */
export function snapshotPaths(paths: string[]): Set<string> {
  return new Set(paths.filter((p) => fs.existsSync(p)));
}

/** Removes those of `paths` that did not exist before (the set from snapshotPaths), deepest first, only when empty unless `recursive`. */
export function removeNew(paths: string[], before: Set<string>, recursive = false): void {
  for (const p of [...paths].sort((a, b) => b.length - a.length)) {
    if (before.has(p) || !fs.existsSync(p)) continue;
    try {
      if (recursive) fs.rmSync(p, { recursive: true, force: true });
      else fs.rmdirSync(p);
    } catch {
      /* not empty: something else lives there now */
    }
  }
}

/** Pids of processes whose command line mentions `needle` (a private temp path), to end what a client left running. */
export function pidsMentioning(needle: string): number[] {
  const out: number[] = [];
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    try {
      if (fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(needle)) out.push(Number(p));
    } catch {
      /* gone */
    }
  }
  return out;
}

export function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Polls `check` until it returns true or `ms` pass. */
export function waitFor(check: () => boolean, ms = 10_000, step = 50): boolean {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (check()) return true;
    sleep(step);
  }
  return check();
}

/** The user namespace of a process as the kernel names it (`user:[4026531837]`), read on the host. */
export function userNsOf(pid: number | 'self'): string {
  return fs.readlinkSync(`/proc/${pid}/ns/user`);
}

/** A uid_map/gid_map with its columns' padding squeezed: one `inside host size` triple a line. */
export function squeezeMap(text: string): string {
  return text
    .split('\n')
    .map((l) => l.trim().split(/\s+/).join(' '))
    .filter(Boolean)
    .join('\n');
}

/** The part of an OCI image config's `config` that the tests set. */
export interface ImageConfig {
  Env?: string[];
  Entrypoint?: string[];
  Cmd?: string[];
  User?: string;
  WorkingDir?: string;
}

/**
 * An OCI image archive (ctr image import's input) of `rootfs` as one
 * uncompressed layer, named `image`; `work` holds the layout while it is
 * built. `config` replaces the default image config (PATH, `sh`).
 */
export function buildOciArchive(work: string, rootfs: string, image: string, out: string, config?: ImageConfig): void {
  const layout = path.join(work, 'layout');
  fs.rmSync(layout, { recursive: true, force: true });
  const blobs = path.join(layout, 'blobs', 'sha256');
  fs.mkdirSync(blobs, { recursive: true });
  const put = (b: Buffer): string => {
    const hex = crypto.createHash('sha256').update(b).digest('hex');
    fs.writeFileSync(path.join(blobs, hex), b);
    return `sha256:${hex}`;
  };
  const layerFile = path.join(work, 'layer.tar');
  const tar = run('tar', ['-C', rootfs, '--numeric-owner', '-cf', layerFile, '.']);
  if (tar.status !== 0) throw new Error(`tar ${rootfs}: ${tar.stderr}`);
  const layer = fs.readFileSync(layerFile);
  const layerDigest = put(layer);
  const imageConfig = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: config ?? { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['sh'] },
      rootfs: { type: 'layers', diff_ids: [layerDigest] },
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: put(imageConfig), size: imageConfig.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layerDigest, size: layer.length }],
    }),
  );
  const index = {
    schemaVersion: 2,
    manifests: [
      {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: put(manifest),
        size: manifest.length,
        annotations: { 'io.containerd.image.name': image, 'org.opencontainers.image.ref.name': 'test' },
      },
    ],
  };
  fs.writeFileSync(path.join(layout, 'index.json'), JSON.stringify(index));
  fs.writeFileSync(path.join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const pack = run('tar', ['-C', layout, '-cf', out, '.']);
  if (pack.status !== 0) throw new Error(`tar ${layout}: ${pack.stderr}`);
}

/**
 * A private containerd's config: its own root, state, temp and sockets under
 * `dir`, only the plugins ctr needs. `cri` (lines of TOML) enables the CRI
 * plugin with those settings; without it the plugin is disabled.
 */
export function containerdConfig(dir: string, address: string, cri?: string[]): string {
  return [
    'version = 2',
    `root = "${dir}/root"`,
    `state = "${dir}/state"`,
    `temp = "${dir}/tmp"`,
    'disabled_plugins = [',
    ...(cri ? [] : ['  "io.containerd.grpc.v1.cri",']),
    '  "io.containerd.internal.v1.opt",',
    '  "io.containerd.internal.v1.restart",',
    '  "io.containerd.tracing.processor.v1.otlp",',
    '  "io.containerd.internal.v1.tracing",',
    '  "io.containerd.snapshotter.v1.aufs",',
    '  "io.containerd.snapshotter.v1.btrfs",',
    '  "io.containerd.snapshotter.v1.devmapper",',
    '  "io.containerd.snapshotter.v1.zfs",',
    ']',
    '[grpc]',
    `  address = "${address}"`,
    '[ttrpc]',
    `  address = "${address}.ttrpc"`,
    '[debug]',
    '  address = ""',
    '[metrics]',
    '  address = ""',
    ...(cri ?? []),
    '',
  ].join('\n');
}

export interface Containerd {
  dir: string;
  address: string;
  daemon: ChildProcess;
}

/**
 * The environment a service manager gives a daemon: PATH and tcr's own
 * settings, not the shell's. A shell here sets NODE_EXTRA_CA_CERTS, which
 * makes every Node start parse a CA bundle (about 90 ms on this machine);
 * containerd under systemd has no such variable, nor do the runtimes it calls.
 */
export function daemonEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' };
  for (const [key, value] of Object.entries(process.env)) if (key.startsWith('TCR_')) env[key] = value;
  return env;
}

/**
 * Starts a private containerd with `config` (written to dir/config.toml, its
 * log to dir/containerd.log) and waits until it answers on `address`. The
 * shims it starts inherit `env` (by default a daemon's, `daemonEnv()`).
 */
export function startContainerd(dir: string, address: string, config: string, env: NodeJS.ProcessEnv = daemonEnv()): Containerd {
  const ctr = which('ctr') ?? 'ctr';
  fs.mkdirSync(path.join(dir, 'tmp'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.toml'), config);
  const logFd = fs.openSync(path.join(dir, 'containerd.log'), 'a');
  const daemon = spawn(which('containerd') ?? 'containerd', ['--config', path.join(dir, 'config.toml')], {
    stdio: ['ignore', logFd, logFd],
    env,
  });
  fs.closeSync(logFd);
  const up = waitFor(
    () => daemon.exitCode === null && fs.existsSync(address) && run(ctr, ['--address', address, 'version']).status === 0,
    15_000,
    100,
  );
  if (!up) {
    if (daemon.exitCode === null) daemon.kill('SIGKILL');
    throw new Error(`containerd did not come up:\n${fs.readFileSync(path.join(dir, 'containerd.log'), 'utf8')}`);
  }
  return { dir, address, daemon };
}

/** Stops the daemon by its pid (TERM, then KILL after 10 s), then the shims it started: their command line names its private socket. */
export async function stopContainerd(c: Containerd | undefined): Promise<void> {
  if (!c) return;
  const { daemon } = c;
  if (daemon.pid && daemon.exitCode === null && daemon.signalCode === null) {
    const exited = new Promise((r) => daemon.once('exit', r));
    daemon.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    if (daemon.exitCode === null && daemon.signalCode === null) daemon.kill('SIGKILL');
  }
  for (const pid of pidsMentioning(c.address)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}
