// tcr's own messages. Never through process.stdout/stderr: touching those
// streams makes Node set O_NONBLOCK on descriptors the container shares
// (docs/ARCHITECTURE.md, "Security model", Node's stdio), so everything is
// written with fs.writeSync. With --log, records go to that file in runc's
// shape ({"level","msg","time"}), which shims read.
import fs from 'node:fs';

export type LogLevel = 'debug' | 'info' | 'warning' | 'error';

interface LogConfig {
  file?: string;
  format: 'text' | 'json';
  debug: boolean;
}

interface LogState {
  config: LogConfig;
  fd?: number;
}

// One state per process, not per copy of this module: each of dist/'s
// bundles carries its own copy, and all must write where --log/--debug said.
const KEY = Symbol.for('tcr.log');
const state: LogState = ((globalThis as Record<symbol, LogState | undefined>)[KEY] ??= { config: { format: 'text', debug: false } });
const config = state.config;

export function configureLog(c: Partial<LogConfig>): void {
  Object.assign(config, c);
  if (config.file) state.fd = fs.openSync(config.file, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT, 0o644);
}

function record(level: LogLevel, msg: string): void {
  const fd = state.fd;
  if (fd === undefined) return;
  const time = new Date().toISOString();
  const line =
    config.format === 'json' ? JSON.stringify({ level, msg, time }) + '\n' : `time="${time}" level=${level} msg=${JSON.stringify(msg)}\n`;
  fs.writeSync(fd, line);
}

function toStderr(text: string): void {
  try {
    fs.writeSync(2, text);
  } catch {
    // stderr closed: the log file (if any) still has it
  }
}

export const log = {
  debug(msg: string): void {
    // only with --debug, as runc (logrus at info level otherwise): podman
    // json.Unmarshal()s the whole --log file, so an error must be its only
    // record (a stack trace after it would hide the error from podman)
    if (!config.debug) return;
    record('debug', msg);
    if (state.fd === undefined) toStderr(`tcr: debug: ${msg}\n`);
  },
  info(msg: string): void {
    record('info', msg);
  },
  warn(msg: string): void {
    record('warning', msg);
    toStderr(`tcr: warning: ${msg}\n`);
  },
  error(msg: string): void {
    record('error', msg);
    toStderr(`tcr: ${msg}\n`);
  },
  /** Trace lines and other teaching output: always to stderr. */
  trace(text: string): void {
    toStderr(text);
  },
};

export function out(text: string): void {
  fs.writeSync(1, text);
}
