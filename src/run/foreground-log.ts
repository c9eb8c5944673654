// The json-file log of a foreground `tcr run IMAGE` that is kept (no --rm),
// as docker keeps one for every container: `tcr logs NAME` works once it
// ran. Without -t its stdout and stderr go through the log pipes, which echo
// each to tcr's own (still live, still apart); with -t the terminal's output
// is logged as docker does, as stdout.
import fs from 'node:fs';
import { LogPipes, LogStream, openLog } from './log-pipes.js';
import { writeAll } from '../sys/write-all.js';
import type { RunOptions } from '../container/runtime.js';

/** Output left in the pipes at the exit is logged within this long (as the monitor's DRAIN_MS). */
const DRAIN_MS = 2000;

export interface ForegroundLog {
  /** what the launch is given: the container's stdio and the hooks that feed and end the log */
  launch: Pick<RunOptions, 'stdio' | 'onRunning' | 'onExit' | 'onTerminalOutput'>;
  /** ends the log whatever happened (a failed launch too), and closes what it opened */
  close(): Promise<void>;
}

/** `stdin`: the container's stdin fd (-1: tcr's own, for -i). */
export function foregroundLog(dir: string, logFile: string, o: { tty?: boolean; stdin: number }): ForegroundLog {
  if (o.tty) {
    const fd = openLog(logFile);
    const entries = new LogStream(fd, 'stdout');
    let closed = false;
    return {
      launch: { stdio: [o.stdin, -1, -1], onTerminalOutput: (chunk) => entries.push(chunk) },
      close: async () => {
        if (closed) return;
        closed = true;
        entries.end();
        fs.closeSync(fd);
      },
    };
  }
  const pipes = new LogPipes(dir, logFile, (stream, chunk) => writeAll(stream === 'stdout' ? 1 : 2, chunk));
  return {
    launch: {
      stdio: [o.stdin, ...pipes.writeFds],
      onRunning: () => pipes.closeWriteEnds(),
      onExit: () => pipes.drained(DRAIN_MS),
    },
    close: () => pipes.drained(0),
  };
}
