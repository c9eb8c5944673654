// start's wait for the init's byte on the exec fifo, under every interleaving
// of the init's write/exec/exit with start's reads (no root, no processes).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { INIT_GONE, awaitInitByte, releaseExecFifo } from '../../src/container/exec-fifo.js';
import { native } from '../../src/sys/native.js';

/** A scripted fifo: each read pops the next answer (true: a byte). */
function script(reads: boolean[], alive: boolean[]) {
  const log: string[] = [];
  return {
    log,
    readByte: () => {
      const r = reads.shift() ?? false;
      log.push(r ? 'byte' : 'none');
      return r;
    },
    initAlive: () => {
      const a = alive.shift() ?? false;
      log.push(a ? 'alive' : 'dead');
      return a;
    },
    pause: () => log.push('pause'),
  };
}

describe('awaitInitByte', () => {
  it('returns at the first byte', () => {
    const s = script([true], []);
    awaitInitByte(s.readByte, s.initAlive, s.pause);
    expect(s.log).toEqual(['byte']);
  });

  it('keeps waiting while the init lives', () => {
    const s = script([false, false, true], [true, true]);
    awaitInitByte(s.readByte, s.initAlive, s.pause);
    expect(s.log).toEqual(['none', 'alive', 'pause', 'none', 'alive', 'pause', 'byte']);
  });

  it('a short command that wrote, ran and exited between the read and the check has started (the byte is taken once)', () => {
    // then the fifo has no writer: any further read is end of file
    const s = script([false, true, false, false], [false]);
    expect(() => awaitInitByte(s.readByte, s.initAlive, s.pause)).not.toThrow();
    expect(s.log).toEqual(['none', 'dead', 'byte']);
  });

  it('an init that died without writing is reported stopped', () => {
    const s = script([false, false], [false]);
    expect(() => awaitInitByte(s.readByte, s.initAlive, s.pause)).toThrow(INIT_GONE);
  });
});

/** A process's state letter from /proc (Z once it has exited and is not yet reaped). */
function procState(pid: number): string {
  try {
    const st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return st.slice(st.lastIndexOf(')') + 2, st.lastIndexOf(')') + 3);
  } catch {
    return 'gone';
  }
}

describe('releaseExecFifo on a real fifo', () => {
  it("a writer that wrote its byte and exited between start's read and its liveness check has started", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcr-fifo-'));
    const fifo = path.join(dir, 'exec.fifo');
    native().mkfifo(fifo, 0o600);
    // takes the fifo when start opens it, then writes only later and exits: start's first
    // read finds nothing, and the check below returns "dead" only once the byte is in
    const writer = spawn('sh', ['-c', `exec 3>${fifo}; sleep 0.3; printf 0 >&3`], { stdio: 'ignore' });
    let checks = 0;
    try {
      releaseExecFifo(
        fifo,
        () => {
          checks++;
          // the event loop is blocked: the writer stays a zombie, unreaped, once it has exited
          while (!['Z', 'gone'].includes(procState(writer.pid!))) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
          return false;
        },
        { awaitExec: true },
      );
      expect(checks).toBe(1);
    } finally {
      writer.kill('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  /** fds of this process open on `file` */
  const fdsOn = (file: string) =>
    fs.readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return fs.readlinkSync(`/proc/self/fd/${fd}`) === file;
      } catch {
        return false;
      }
    });

  /** a writer that takes the fifo, writes its byte, then holds the write end open for `holdS` seconds */
  function withWriter(holdS: number, body: (fifo: string) => void) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcr-fifo-'));
    const fifo = path.join(dir, 'exec.fifo');
    native().mkfifo(fifo, 0o600);
    const writer = spawn('sh', ['-c', `exec 3>${fifo}; printf 0 >&3; sleep ${holdS}`], { stdio: 'ignore' });
    try {
      body(fifo);
    } finally {
      writer.kill('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  it('returns after the byte, not waiting for the end of file, when no poststart hook needs the exec', () => {
    withWriter(5, (fifo) => {
      const t = Date.now();
      releaseExecFifo(fifo, () => true, { awaitExec: false });
      expect(Date.now() - t).toBeLessThan(2000);
      expect(fdsOn(fifo)).toEqual([]); // the init's wait for no reader ends here
    });
  });

  it('waits for the end of file (the exec) when poststart hooks follow it', () => {
    withWriter(0.5, (fifo) => {
      const t = Date.now();
      releaseExecFifo(fifo, () => true, { awaitExec: true });
      expect(Date.now() - t).toBeGreaterThanOrEqual(400);
    });
  });

  it("closeAtExit leaves the read end to the process's exit, so the init goes on only then", () => {
    withWriter(5, (fifo) => {
      releaseExecFifo(fifo, () => true, { awaitExec: false, closeAtExit: true });
      const left = fdsOn(fifo);
      expect(left).toHaveLength(1);
      fs.closeSync(Number(left[0]));
    });
  });
});
