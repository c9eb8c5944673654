// `tcr attach` and `tcr start -a [-i]`: the client end of a container's
// attach socket (attach-socket.ts). Output to our stdout and stderr as the
// container wrote it; with stdin, what we read goes to the container, the
// end of it too; for a terminal container our own terminal goes raw, its
// size follows ours, and the detach keys leave the container running.
// Signals we get go to the container (--sig-proxy), as docker's, without -t.
import fs from 'node:fs';
import net from 'node:net';
import tty from 'node:tty';
import { errnoCode, TcrError } from '../errors.js';
import { native } from '../sys/native.js';
import { writeAll } from '../sys/write-all.js';
import { enterRawMode } from '../container/terminal.js';
import type { SignalForwarder } from '../container/signal-forwarder.js';
import { Frame, FrameReader, frame, resizeFrame } from './attach-frames.js';
import { withSocketPath } from './attach-socket.js';
import { DetachWatcher } from './detach-keys.js';

export interface AttachOptions {
  /** forward our stdin (not for --no-stdin, nor start -a without -i) */
  stdin: boolean;
  /** the container has a terminal: ours goes raw, the window size is passed on */
  tty: boolean;
  /** the detach sequence's bytes (empty: no detaching) */
  detachKeys: Buffer;
  /** --sig-proxy: installed before the connect (a signal meanwhile is held), aimed at the container's init here */
  signals?: { forwarder: SignalForwarder; pid: () => number | undefined };
}

/**
 * How an attach ended: the container's status, or a detach (the container runs on), or the monitor dropped us for
 * reading too slowly (why: its words), or the socket gone without a status.
 */
export type AttachEnd = { kind: 'exited'; status: number } | { kind: 'detached' } | { kind: 'dropped'; why: string } | { kind: 'lost' };

/** Connects to the attach socket in `dir`; a missing or refusing socket is undefined (no monitor serves one). */
export async function connectAttach(dir: string): Promise<net.Socket | undefined> {
  try {
    return await withSocketPath(
      dir,
      (p) =>
        new Promise<net.Socket>((resolve, reject) => {
          const s = net.connect(p, () => {
            s.off('error', reject);
            resolve(s);
          });
          s.once('error', reject);
        }),
    );
  } catch (e) {
    const code = errnoCode(e);
    if (code === 'ENOENT' || code === 'ECONNREFUSED') return undefined;
    throw new TcrError(`attach: cannot connect to the container's attach socket in ${dir}: ${code ?? (e as Error).message}`, 125);
  }
}

/** Our terminal's size to a terminal container; false when we have none. */
function sendWindowSize(sock: net.Socket): boolean {
  const fd = tty.isatty(1) ? 1 : tty.isatty(0) ? 0 : -1;
  const size = fd >= 0 ? native().getWinsize(fd) : null;
  if (size && size.rows > 0) sock.write(resizeFrame(size.rows, size.cols));
  return !!size && size.rows > 0;
}

/**
 * A client's first frame, which a monitor waiting for `start -a` launches on: our window size to a terminal
 * container (it then has it from its first byte), else nothing typed yet.
 */
export function sendHello(sock: net.Socket, terminal: boolean): void {
  if (!terminal || !sendWindowSize(sock)) sock.write(frame(Frame.stdin));
}

/** Our stdin as a stream that can be let go of at once (a pending read of a plain fd would hold node until it returns). */
function openInput(): NodeJS.ReadableStream & { destroy(): void } {
  if (tty.isatty(0)) return new tty.ReadStream(0);
  const st = fs.fstatSync(0);
  if (st.isFIFO() || st.isSocket()) return new net.Socket({ fd: 0, readable: true, writable: false });
  return fs.createReadStream('', { fd: 0, autoClose: false });
}

/** Proxies until the container exits, the user detaches, or the socket goes. */
export async function runAttach(sock: net.Socket, o: AttachOptions): Promise<AttachEnd> {
  let input: (NodeJS.ReadableStream & { destroy(): void }) | undefined;
  let raw = false;
  const signals = o.signals?.forwarder;
  const pid = o.signals?.pid();
  if (signals && pid) signals.target(pid);
  const sendSize = () => sendWindowSize(sock);
  if (o.tty) {
    sendSize();
    process.on('SIGWINCH', sendSize);
  }
  let finish: (end: AttachEnd) => void = () => {};
  const ended = new Promise<AttachEnd>((resolve) => (finish = resolve));
  let status: number | undefined;
  const reader = new FrameReader((type, payload) => {
    if (type === Frame.stdout) writeAll(1, payload);
    else if (type === Frame.stderr) writeAll(2, payload);
    else if (type === Frame.exit && payload.length === 4) status = payload.readInt32BE(0);
    else if (type === Frame.dropped) finish({ kind: 'dropped', why: payload.toString('utf8') });
  });
  sock.on('data', (chunk: Buffer) => reader.push(chunk));
  sock.on('error', () => {});
  sock.on('close', () => finish(status === undefined ? { kind: 'lost' } : { kind: 'exited', status }));
  if (o.stdin) {
    input = openInput();
    if (o.tty && input instanceof tty.ReadStream) {
      enterRawMode(input);
      raw = true;
    }
    const watcher = new DetachWatcher(o.detachKeys);
    input.on('data', (chunk: Buffer | string) => {
      const { forward, detach } = watcher.feed(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
      if (forward.length) sock.write(frame(Frame.stdin, forward));
      if (detach) finish({ kind: 'detached' });
    });
    input.on('error', () => {});
    input.on('end', () => sock.writable && sock.write(frame(Frame.stdinEnd)));
  }
  try {
    return await ended;
  } finally {
    process.off('SIGWINCH', sendSize);
    signals?.uninstall();
    if (raw) (input as tty.ReadStream).setRawMode(false);
    input?.destroy();
    sock.destroy();
  }
}
