// The attach socket a container's monitor serves for one launch, as conmon's:
// <store>/containers/ID/attach.sock. Every client gets the output from the
// moment it connects (stdout and stderr apart, attach-frames.ts) and the exit
// status; what clients type goes to the container's stdin, a pipe the monitor
// holds open (-i), or to its pty master (-t). A client that stops reading
// is dropped, never waited for: the container's output must never stall on
// it. It is told why once it reads again. The socket goes when the launch ends.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { errnoCode } from '../errors.js';
import { native } from '../sys/native.js';
import { exitFrame, frame, Frame, FrameReader } from './attach-frames.js';
import { openPipe, type StreamName } from './log-pipes.js';

export const ATTACH_SOCKET = 'attach.sock';

/** Output a client may leave unread however long it takes... */
const MAX_BACKLOG = 4 * 1024 * 1024;
/** ...and for how long past that it may read nothing before it is dropped (a reader on a busy machine is slow, not stopped) */
const STALL_MS = 5000;
/** Beyond this much unread it is dropped even while it reads: the monitor's memory is bounded. */
const HARD_BACKLOG = 64 * 1024 * 1024;
/** How long a dropped client has to read what was queued for it, and why it was dropped, before its socket is closed. */
const DROP_GRACE_MS = 30_000;
const MiB = 1024 * 1024;

/** When a client last took output off its queue. */
interface Progress {
  /** the bytes the kernel has taken from us: a client that reads makes this grow */
  flushed: number;
  at: number;
}

/**
 * A unix socket path must fit in sun_path (108 bytes): a longer one is
 * reached through the directory's fd. `use` gets the path to bind or connect.
 */
export async function withSocketPath<T>(dir: string, use: (p: string) => Promise<T>): Promise<T> {
  const direct = path.join(dir, ATTACH_SOCKET);
  if (Buffer.byteLength(direct) < 100) return use(direct);
  const fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  try {
    return await use(`/proc/self/fd/${fd}/${ATTACH_SOCKET}`);
  } finally {
    fs.closeSync(fd);
  }
}

/** The container's stdin under -i without -t: the read end is the container's, the write end stays here. */
export function openStdinPipe(dir: string): { containerEnd: number; ours: net.Socket } {
  const { read, write } = openPipe(dir);
  // openPipe's read end is non-blocking, which the container must not inherit: a blocking one is opened
  // through /proc while the write end keeps the fifo's other side open
  const blocking = fs.openSync(`/proc/self/fd/${read}`, fs.constants.O_RDONLY);
  fs.closeSync(read);
  return { containerEnd: blocking, ours: new net.Socket({ fd: write, readable: false, writable: true }) };
}

export type ContainerInput = { kind: 'pipe'; socket: net.Socket } | { kind: 'terminal'; master: number } | { kind: 'none' };

export class AttachServer {
  private readonly server = net.createServer((c) => this.accept(c));
  private readonly clients = new Map<net.Socket, Progress>();
  private input: ContainerInput = { kind: 'none' };
  private socketPath?: string;
  private firstClient?: () => void;
  private closed = false;
  private greeted = false;
  /** the last window size a client sent: a terminal made after it (start -a) gets it at once */
  private size?: { rows: number; cols: number };

  /** `interactive`: typed input reaches the container (-i); without it only a terminal's size does */
  constructor(
    private readonly dir: string,
    private readonly interactive: boolean,
  ) {
    this.server.on('error', () => {});
  }

  async listen(): Promise<void> {
    const file = path.join(this.dir, ATTACH_SOCKET);
    fs.rmSync(file, { force: true }); // a monitor killed before left its own
    await withSocketPath(
      this.dir,
      (p) =>
        new Promise<void>((resolve, reject) => {
          this.server.once('error', reject);
          this.server.listen(p, () => {
            this.server.off('error', reject);
            resolve();
          });
        }),
    );
    this.socketPath = file;
    fs.chmodSync(file, 0o600);
  }

  /**
   * Resolves once a client is connected and its first frame came (`start -a`: the container launches only then, with
   * the client's window size), or when `gone()` says nobody will come.
   */
  async clientConnected(gone: () => boolean): Promise<void> {
    if (this.greeted) return;
    let poll: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.firstClient = resolve;
      poll = setInterval(() => gone() && resolve(), 100);
    });
    clearInterval(poll);
    this.firstClient = undefined;
  }

  /** Where typed input goes, from the launch on. */
  setInput(input: ContainerInput): void {
    this.input = input;
    if (input.kind === 'terminal' && this.size) native().setWinsize(input.master, this.size.rows, this.size.cols);
  }

  broadcast(stream: StreamName, chunk: Buffer): void {
    const f = frame(stream === 'stdout' ? Frame.stdout : Frame.stderr, chunk);
    const now = Date.now();
    for (const [c, progress] of this.clients) {
      const flushed = (c.bytesWritten ?? 0) - c.writableLength;
      if (flushed > progress.flushed) Object.assign(progress, { flushed, at: now });
      const queued = c.writableLength;
      if (queued > HARD_BACKLOG) this.drop(c, `it left ${(queued / MiB) | 0} MiB of output unread`);
      else if (queued > MAX_BACKLOG && now - progress.at > STALL_MS)
        this.drop(c, `it left ${(queued / MiB) | 0} MiB of output unread and read nothing for ${Math.round((now - progress.at) / 1000)} s`);
      else c.write(f);
    }
  }

  /** No more output for `c`: it gets what is queued, then why, and is closed after a grace period if it never reads it. */
  private drop(c: net.Socket, why: string): void {
    this.clients.delete(c);
    c.end(frame(Frame.dropped, Buffer.from(`${why}; the container did not wait for it`)));
    setTimeout(() => c.destroy(), DROP_GRACE_MS).unref();
  }

  /** The container exited: each client is told its status and let go, the socket removed. */
  close(status?: number): void {
    if (this.closed) return;
    this.closed = true;
    for (const c of this.clients.keys()) {
      if (status === undefined) c.end();
      else c.end(exitFrame(status));
      // a client that stopped reading does not keep the monitor for ever
      setTimeout(() => c.destroy(), DROP_GRACE_MS).unref();
    }
    this.clients.clear();
    this.server.close();
    if (this.socketPath) fs.rmSync(this.socketPath, { force: true });
    this.endInput();
  }

  /** Nothing more goes to the container: it exited, or its terminal is about to close. */
  endInput(): void {
    if (this.input.kind === 'pipe') this.input.socket.destroy();
    this.input = { kind: 'none' };
  }

  private accept(c: net.Socket): void {
    if (this.closed) return void c.destroy();
    this.clients.set(c, { flushed: 0, at: Date.now() });
    c.on('error', () => {});
    c.on('close', () => this.clients.delete(c));
    const reader = new FrameReader((type, payload) => this.onFrame(type, payload));
    c.on('data', (chunk: Buffer) => reader.push(chunk));
  }

  private onFrame(type: Frame, payload: Buffer): void {
    this.greeted = true;
    this.firstClient?.();
    const input = this.input;
    if (type === Frame.stdin && this.interactive && payload.length) {
      if (input.kind === 'pipe') input.socket.write(payload);
      else if (input.kind === 'terminal') writeAll(input.master, payload);
    } else if (type === Frame.stdinEnd) {
      // podman's way: the end of an attached stdin is the end of the container's (a terminal has no such end)
      if (input.kind === 'pipe') {
        input.socket.end();
        this.input = { kind: 'none' };
      }
    } else if (type === Frame.resize && payload.length === 4) {
      const rows = payload.readUInt16BE(0);
      const cols = payload.readUInt16BE(2);
      if (rows === 0 || cols === 0) return;
      this.size = { rows, cols };
      if (input.kind === 'terminal') native().setWinsize(input.master, rows, cols);
    }
  }
}

/** Typed input into the pty master, which may be non-blocking: a full buffer is waited out, a closed terminal ends it. */
function writeAll(fd: number, buf: Buffer): void {
  let off = 0;
  let tries = 0;
  while (off < buf.length && tries < 1000) {
    try {
      off += fs.writeSync(fd, buf, off);
    } catch (e) {
      if (errnoCode(e) !== 'EAGAIN') return;
      tries++;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2);
    }
  }
}
