// The container's stdout and stderr as docker's json-file driver keeps them:
// each goes to the container through a pipe whose other end the monitor
// reads, and every line becomes {"log","stream","time"} appended to the log.
// Node has no pipe(2): a fifo opened at both ends and unlinked at once is one.
// A terminal container's output is what its pty master reads, logged as
// stdout. Each chunk also goes to `onOutput` as it comes: a monitor's attach
// clients, or a foreground run's own stdout and stderr (writeAll).
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import tty from 'node:tty';
import { native } from '../sys/native.js';
import { randomHex } from '../sys/random.js';
import { nowNanos, rfc3339Nano } from './log-time.js';

export type StreamName = 'stdout' | 'stderr';

/** docker splits a line longer than this into several entries */
const MAX_ENTRY = 16 * 1024;

export function openPipe(dir: string): { read: number; write: number } {
  const fifo = path.join(dir, `.pipe-${randomHex(4)}`);
  native().mkfifo(fifo, 0o600);
  try {
    const read = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    // blocking for the container: a full pipe makes its write wait, never fail with EAGAIN
    const write = fs.openSync(fifo, fs.constants.O_WRONLY);
    return { read, write };
  } finally {
    fs.unlinkSync(fifo);
  }
}

/** One stream's entries: its bytes cut at each newline (and every MAX_ENTRY), one JSON line each, appended to the log. */
export class LogStream {
  private readonly decoder = new StringDecoder('utf8');
  private pending = '';

  constructor(
    private readonly logFd: number,
    private readonly stream: StreamName,
  ) {}

  push(chunk: Buffer): void {
    this.pending += this.decoder.write(chunk);
    let nl: number;
    while ((nl = this.pending.indexOf('\n')) >= 0) {
      this.entry(this.pending.slice(0, nl + 1));
      this.pending = this.pending.slice(nl + 1);
    }
    while (this.pending.length >= MAX_ENTRY) {
      this.entry(this.pending.slice(0, MAX_ENTRY));
      this.pending = this.pending.slice(MAX_ENTRY);
    }
  }

  /** A last line without its newline is an entry too. */
  end(): void {
    this.pending += this.decoder.end();
    if (this.pending) this.entry(this.pending);
    this.pending = '';
  }

  private entry(log: string): void {
    fs.writeSync(this.logFd, JSON.stringify({ log, stream: this.stream, time: rfc3339Nano(nowNanos()) }) + '\n');
  }
}

export function openLog(logFile: string): number {
  return fs.openSync(logFile, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT, 0o640);
}

export class LogPipes {
  /** the container's stdout and stderr, until the launch has handed them over */
  readonly writeFds: [number, number];
  private readonly done: Promise<void>[] = [];
  private readonly sockets: net.Socket[] = [];
  private readonly logFd: number;

  /** `onOutput`: gets each stream's bytes as they come, before the log has them (it must not wait for a line to end) */
  constructor(
    dir: string,
    logFile: string,
    private readonly onOutput: (stream: StreamName, chunk: Buffer) => void = () => {},
  ) {
    this.logFd = openLog(logFile);
    const out = openPipe(dir);
    const err = openPipe(dir);
    this.writeFds = [out.write, err.write];
    this.follow(out.read, 'stdout');
    this.follow(err.read, 'stderr');
  }

  /** Once the container holds its own copies: the pipes end when it (and whatever inherited them) closes them. */
  closeWriteEnds(): void {
    for (const fd of this.writeFds) if (fd >= 0) fs.closeSync(fd);
    this.writeFds[0] = this.writeFds[1] = -1;
  }

  /**
   * Resolves when both pipes reached their end, or after `graceMs`: a process
   * that left the container's pid namespace with a copy (none should) must
   * not keep the monitor from recording the exit.
   */
  drained(graceMs: number): Promise<void> {
    this.draining ??= this.drain(graceMs);
    return this.draining;
  }

  private draining?: Promise<void>;

  private async drain(graceMs: number): Promise<void> {
    this.closeWriteEnds();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(this.done), new Promise((r) => (timer = setTimeout(r, graceMs)))]);
    clearTimeout(timer);
    for (const s of this.sockets) s.destroy();
    await Promise.all(this.done);
    fs.closeSync(this.logFd);
  }

  /** A terminal container's pty master: what it reads is the container's output (the master stays open until the end). */
  followTerminal(master: number): void {
    this.follow(master, 'stdout', new tty.ReadStream(master));
  }

  private follow(fd: number, stream: StreamName, source?: tty.ReadStream): void {
    const socket = source ?? new net.Socket({ fd, readable: true, writable: false });
    this.sockets.push(socket);
    const entries = new LogStream(this.logFd, stream);
    socket.on('data', (chunk: Buffer) => {
      this.onOutput(stream, chunk);
      entries.push(chunk);
    });
    this.done.push(
      new Promise<void>((resolve) => {
        socket.on('error', () => {}); // EIO and the like: the end of the stream all the same
        socket.on('close', () => {
          entries.end();
          resolve();
        });
      }),
    );
  }
}
