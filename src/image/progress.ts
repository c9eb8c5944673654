// Progress of an image import, on stderr, written with fs.writeSync (never
// process.stderr: see src/log.ts). On a terminal: one line per layer, redrawn
// in place with a bar, like docker pull. Otherwise: a plain line when each
// layer starts and ends, which reads well in CI logs. Hand-written: a bar
// library would cost more start-up time than these few lines.
import fs from 'node:fs';
import tty from 'node:tty';
import { native } from '../sys/native.js';

export interface Progress {
  /** a layer (by its blob digest) is about to be fetched; size in bytes */
  start(id: string, size: number): void;
  update(id: string, bytes: number): void;
  /** status: "Pull complete", "Already exists", or an error */
  done(id: string, status: string): void;
  /** a line of text (e.g. "Trying to pull …") */
  note(text: string): void;
  close(): void;
}

export function humanSize(bytes: number): string {
  // decimal units, as docker shows sizes
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0)}${units[i]}`;
}

function write(text: string): void {
  try {
    fs.writeSync(2, text);
  } catch {
    // stderr gone: progress is only a courtesy
  }
}

/** Silence: for library callers and `-q`. */
export const quietProgress: Progress = { start() {}, update() {}, done() {}, note() {}, close() {} };

class PlainProgress implements Progress {
  private sizes = new Map<string, number>();
  start(id: string, size: number): void {
    this.sizes.set(id, size);
    write(`Copying blob ${id.slice(7, 19)} (${humanSize(size)})\n`);
  }
  update(): void {}
  done(id: string, status: string): void {
    write(`${id.slice(7, 19)}: ${status}\n`);
  }
  note(text: string): void {
    write(text + '\n');
  }
  close(): void {}
}

interface Row {
  id: string;
  size: number;
  bytes: number;
  status?: string;
}

class TtyProgress implements Progress {
  private rows: Row[] = [];
  private drawn = 0;
  private last = 0;

  start(id: string, size: number): void {
    this.rows.push({ id, size, bytes: 0 });
    this.draw(true);
  }
  update(id: string, bytes: number): void {
    const r = this.rows.find((x) => x.id === id);
    if (r) r.bytes = bytes;
    this.draw(false);
  }
  done(id: string, status: string): void {
    const r = this.rows.find((x) => x.id === id);
    if (r) r.status = status;
    else this.rows.push({ id, size: 0, bytes: 0, status });
    this.draw(true);
  }
  note(text: string): void {
    this.erase();
    write(text + '\n');
    this.draw(true);
  }
  close(): void {
    this.draw(true);
  }

  private line(r: Row, width: number): string {
    const head = `${r.id.slice(7, 19)}: `;
    if (r.status) return head + r.status;
    const amount = ` ${humanSize(r.bytes)}/${humanSize(r.size)}`;
    // a width that does not change with the numbers, so the bar does not jitter
    const barWidth = Math.max(10, Math.min(40, width - head.length - 40));
    const filled = r.size > 0 ? Math.min(barWidth, Math.floor((r.bytes / r.size) * barWidth)) : 0;
    const bar = '='.repeat(Math.max(0, filled - 1)) + (filled > 0 ? '>' : '') + ' '.repeat(barWidth - filled);
    return `${head}Downloading [${bar}]${amount}`;
  }

  /** The terminal's width by ioctl: a tty.WriteStream on fd 2 would set O_NONBLOCK on it. */
  private columns(): number {
    try {
      return native().getWinsize(2)?.cols || 80;
    } catch {
      return 80;
    }
  }

  private erase(): void {
    if (this.drawn) write(`\x1b[${this.drawn}A\x1b[J`);
    this.drawn = 0;
  }

  private draw(force: boolean): void {
    const now = Date.now();
    if (!force && now - this.last < 100) return; // at most ten redraws a second
    this.last = now;
    const width = this.columns();
    const text = this.rows.map((r) => this.line(r, width).slice(0, width - 1)).join('\n');
    this.erase();
    if (this.rows.length) write(text + '\n');
    this.drawn = this.rows.length;
  }
}

/**
 * A bar on a terminal, plain lines otherwise, nothing when quiet. Which one
 * is decided at the first report: a run of a present image reports nothing
 * and so never loads node:tty.
 */
export function makeProgress(opts: { quiet?: boolean } = {}): Progress {
  if (opts.quiet) return quietProgress;
  let chosen: Progress | undefined;
  const p = () => (chosen ??= tty.isatty(2) ? new TtyProgress() : new PlainProgress());
  return {
    start: (id, size) => p().start(id, size),
    update: (id, bytes) => p().update(id, bytes),
    done: (id, status) => p().done(id, status),
    note: (text) => p().note(text),
    close: () => chosen?.close(),
  };
}
