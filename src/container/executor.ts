// The native side of a launch: everything Launch does to the executor
// process and its socket goes through this interface, so unit tests can
// replay scripted records through the real Launch and Runtime.launch
// (test/unit/runtime-launch.test.ts) with no process and no root.
import fs from 'node:fs';
import { executorPath, native, type WaitStatus } from '../sys/native.js';

export interface Executor {
  /** starts the executor on an encoded plan: the init's pid and the step socket */
  spawn(plan: Buffer, stdio: number[], cgroupFd: number, slotFd: number): { pid: number; sock: number; intoCgroup: boolean };
  /** one record (an empty buffer at end of file), and the fd it carried or -1 */
  /** resolves once the socket has a record (or its end): launches in one process overlap while each init works */
  readable(sock: number): Promise<void>;
  recv(sock: number, size: number): { data: Buffer; fd: number };
  send(sock: number, data: Buffer): void;
  close(sock: number): void;
  kill(pid: number, signal: NodeJS.Signals): void;
  waitpid(pid: number): WaitStatus | null;
}

export const nativeExecutor: Executor = {
  spawn: (plan, stdio, cgroupFd, slotFd) => native().spawn(plan, stdio, cgroupFd, slotFd, executorPath()),
  readable: (sock) => native().readableAsync(sock),
  recv: (sock, size) => native().recv(sock, size),
  send: (sock, data) => void fs.writeSync(sock, data),
  close: (sock) => fs.closeSync(sock),
  kill: (pid, signal) => void process.kill(pid, signal),
  waitpid: (pid) => native().waitpid(pid),
};
