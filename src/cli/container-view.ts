// One container as docker's `ps` and `--format` see it: the fields of
// docker's container context (ID, Image, Command, RunningFor, Status, Ports,
// Names, ...), built from the state record, the spec's run note, the exit
// record and the store's container directory.
import fs from 'node:fs';
import path from 'node:path';
import type { Runtime } from '../container/runtime.js';
import type { ContainerRecord } from '../container/state-store.js';
import type { Status } from '../container/status.js';
import { readExitRecord, type ExitRecord } from '../container/exit-record.js';
import type { PortMapping } from '../network/record.js';
import { publishedPorts, runNote } from '../run/inspect.js';
import { decimalSize, ellipsis, goTimeString, humanDuration } from './human-units.js';
import { neverStarted } from '../run/created-record.js';
import { nameOf } from '../container/names.js';

export interface ContainerView {
  id: string;
  /** the name it goes by (its id unless rename gave it another: src/container/names.ts) */
  name?: string;
  image: string;
  /** the image's config digest, for images of the store */
  imageId?: string;
  args: string[];
  created: Date;
  status: Status;
  /** when the init started (from its /proc start time) */
  startedAt?: Date;
  exit?: ExitRecord;
  ports: PortMapping[];
  labels: Record<string, string>;
  network: string;
  mounts: { name?: string; source: string }[];
  /** the container's own layer (its overlay upper dir) and that plus the image, in bytes; with -s */
  size?: { rw: number; rootFs: number };
}

/** The boot time, in ms since the epoch (btime of /proc/stat). */
function bootTimeMs(): number {
  const m = /^btime (\d+)$/m.exec(fs.readFileSync('/proc/stat', 'utf8'));
  return m ? Number(m[1]) * 1000 : 0;
}

/** USER_HZ: the unit of /proc/PID/stat's start time (100 on every Linux ABI tcr runs on). */
const CLOCK_TICKS = 100;

let boot: number | undefined;
export function processStart(startTime: string): Date | undefined {
  const ticks = Number(startTime);
  if (!(ticks > 0)) return undefined;
  boot ??= bootTimeMs();
  return new Date(boot + (ticks / CLOCK_TICKS) * 1000);
}

/** The store's container directory of an image container. */
export function storeContainerDir(storeRoot: string, id: string): string {
  return path.join(storeRoot, 'containers', id);
}

function imageIdOf(storeRoot: string, id: string): string | undefined {
  try {
    const use = JSON.parse(fs.readFileSync(path.join(storeContainerDir(storeRoot, id), 'image.json'), 'utf8')) as { image?: unknown };
    return typeof use.image === 'string' ? use.image : undefined;
  } catch {
    return undefined;
  }
}

/** Bytes of the regular files under dir (symlinks and directories count nothing), hard links once. */
export function treeSize(dir: string): number {
  let total = 0;
  const seen = new Set<string>();
  const walk = (d: string) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) {
        const st = fs.lstatSync(p, { throwIfNoEntry: false });
        if (!st) continue;
        const key = `${st.dev}:${st.ino}`;
        if (st.nlink > 1 && seen.has(key)) continue;
        seen.add(key);
        total += st.size;
      }
    }
  };
  walk(dir);
  return total;
}

export function containerView(rt: Runtime, rec: ContainerRecord, given: Status, storeRoot: string): ContainerView {
  const note = runNote(rec);
  // docker's create made it and nothing started it yet (src/run/created-record.ts): "Created", not exited
  const status: Status = given === 'stopped' && neverStarted(rec) && !readExitRecord(rt.store.dir(rec.id)) ? 'created' : given;
  const volumesRoot = path.join(storeRoot, 'volumes') + path.sep;
  const etc = new Set(['/etc/hostname', '/etc/hosts', '/etc/resolv.conf']);
  const mounts = (rec.config.mounts ?? [])
    .filter((m) => m.type === 'bind' && m.source && !etc.has(m.destination))
    .map((m) => ({
      source: m.source!,
      name: m.source!.startsWith(volumesRoot) ? m.source!.slice(volumesRoot.length).split('/')[0] : undefined,
    }));
  return {
    id: rec.id,
    name: nameOf(rt.store.root, rec.id),
    image: rec.annotations?.['dev.tcr.image'] ?? '',
    imageId: imageIdOf(storeRoot, rec.id),
    args: rec.config.process?.args ?? [],
    created: new Date(rec.created),
    status,
    startedAt: status === 'running' || status === 'paused' ? processStart(rec.startTime) : undefined,
    exit: status === 'stopped' ? readExitRecord(rt.store.dir(rec.id)) : undefined,
    ports: publishedPorts(rec, status),
    labels: note?.labels ?? {},
    network: note?.network ?? (rec.config.linux?.namespaces?.some((n) => n.type === 'network') ? 'none' : 'host'),
    mounts,
  };
}

/** Adds -s's sizes: the upper layer, and that plus the image's layers. */
export function withSize(v: ContainerView, storeRoot: string, imageSize: (configDigest: string) => number): ContainerView {
  const rw = treeSize(path.join(storeContainerDir(storeRoot, v.id), 'upper'));
  return { ...v, size: { rw, rootFs: rw + (v.imageId ? imageSize(v.imageId) : 0) } };
}

/** docker's State: created, running, paused, exited. */
export function dockerState(s: Status): string {
  return s === 'stopped' ? 'exited' : s === 'creating' ? 'created' : s;
}

/** docker's STATUS column: "Up 3 seconds", "Up 2 hours (Paused)", "Exited (137) 2 minutes ago", "Created". */
export function statusText(v: ContainerView, now = Date.now()): string {
  if (v.status === 'running' || v.status === 'paused') {
    const up = `Up ${humanDuration(now - (v.startedAt ?? v.created).getTime())}`;
    return v.status === 'paused' ? `${up} (Paused)` : up;
  }
  if (v.status === 'stopped') {
    // no tcr process saw this exit (a -d container before exit records were kept for it)
    if (!v.exit) return 'Exited (-1)';
    return `Exited (${v.exit.code}) ${humanDuration(now - Date.parse(v.exit.finishedAt))} ago`;
  }
  return 'Created';
}

/** docker's PORTS: "0.0.0.0:8080->80/tcp, 0.0.0.0:5353->53/udp". */
export function portsText(ports: PortMapping[]): string {
  return [...ports]
    .sort((a, b) => a.containerPort - b.containerPort || a.protocol.localeCompare(b.protocol) || a.hostPort - b.hostPort)
    .map((p) => `${p.hostIP ?? '0.0.0.0'}:${p.hostPort}->${p.containerPort}/${p.protocol}`)
    .join(', ');
}

/** The fields of docker's container formatting context, as strings (what `--format` and `json` give). */
export function formatFields(v: ContainerView, trunc: boolean, now = Date.now()) {
  const command = v.args.join(' ');
  const labels = Object.keys(v.labels)
    .sort()
    .map((k) => `${k}=${v.labels[k]}`)
    .join(',');
  const fields = {
    Command: JSON.stringify(trunc ? ellipsis(command, 20) : command),
    CreatedAt: goTimeString(v.created),
    ID: v.id,
    Image: v.image || '(bundle)',
    Labels: labels,
    LocalVolumes: String(v.mounts.filter((m) => m.name).length),
    Mounts: v.mounts.map((m) => (trunc ? ellipsis(m.name ?? m.source, 15) : (m.name ?? m.source))).join(','),
    Names: v.name ?? v.id,
    Networks: v.network,
    Ports: portsText(v.ports),
    RunningFor: `${humanDuration(now - v.created.getTime())} ago`,
    Size: v.size ? `${decimalSize(v.size.rw)} (virtual ${decimalSize(v.size.rootFs)})` : '0B',
    State: dockerState(v.status),
    Status: statusText(v, now),
  };
  return fields;
}

export type FormatFields = ReturnType<typeof formatFields>;
