// A foreground `run` of a terminal container proxies the pty itself: the
// caller's terminal in raw mode, keystrokes to the master, output back, and
// window-size changes passed on with TIOCSWINSZ (the kernel then signals the
// container's foreground process group itself).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import tty from 'node:tty';
import { native } from '../sys/native.js';
import { writeAll } from '../sys/write-all.js';

/**
 * The caller's terminal in raw mode, as docker's: libuv's raw mode keeps
 * ONLCR, which would turn the container's own \r\n into \r\r\n, so output
 * processing goes too. setRawMode(false) puts back the settings from before,
 * this one with them.
 */
export function enterRawMode(input: tty.ReadStream): void {
  input.setRawMode(true);
  // both callers read the terminal on fd 0
  spawnSync('stty', ['-opost'], { stdio: [0, 'ignore', 'ignore'] });
}

export class TerminalProxy {
  private input?: tty.ReadStream | fs.ReadStream;
  private output?: tty.ReadStream;
  private done?: Promise<void>;
  private readonly resize = () => this.copySize();

  constructor(
    private readonly master: number,
    private readonly tee?: (chunk: Buffer) => void,
  ) {}

  start(): void {
    this.copySize();
    process.on('SIGWINCH', this.resize);
    // libuv reopens a tty for its own use, so raw mode and O_NONBLOCK do not leak to the caller's shell
    if (tty.isatty(0)) {
      const stdin = new tty.ReadStream(0);
      enterRawMode(stdin);
      this.input = stdin;
    } else {
      this.input = fs.createReadStream('', { fd: 0, autoClose: false });
    }
    this.input.on('data', (chunk: Buffer | string) => {
      try {
        fs.writeSync(this.master, typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
      } catch {
        // the container closed its terminal
      }
    });
    this.input.on('error', () => {});
    const out = new tty.ReadStream(this.master);
    this.output = out;
    this.done = new Promise((resolve) => {
      out.on('data', (chunk: Buffer) => {
        writeAll(1, chunk);
        this.tee?.(chunk);
      });
      // EIO once the last slave fd closes: the container is done with the terminal
      out.on('error', () => resolve());
      out.on('end', () => resolve());
      out.on('close', () => resolve());
    });
  }

  /** Waits for the container's last output, then restores the caller's terminal. */
  async stop(timeoutMs = 2000): Promise<void> {
    process.off('SIGWINCH', this.resize);
    let timer: NodeJS.Timeout | undefined;
    // the timer cleared once the output ended: pending, it alone kept node alive for its whole 2 s
    await Promise.race([this.done, new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
    if (this.input instanceof tty.ReadStream) this.input.setRawMode(false);
    this.input?.destroy();
    this.output?.destroy();
  }

  private copySize(): void {
    const size = native().getWinsize(tty.isatty(1) ? 1 : 0);
    if (size && size.rows > 0) native().setWinsize(this.master, size.rows, size.cols);
  }
}
