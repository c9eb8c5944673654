// The native side of a launch: everything Launch does to the executor
// process and its socket goes through this interface, so unit tests can
// replay scripted records through the real Launch and Runtime.launch
// (test/unit/runtime-launch.test.ts) with no process and no root.
import fs from 'node:fs';
import { executorPath, native, type WaitStatus } from '../sys/native.js';
import { ContainerLock } from './lock.js';

export interface Executor {
  /** starts the executor on an encoded plan; returns once it runs, before its stage 1 has cloned the init */
  spawn(plan: Buffer, stdio: number[], cgroupFd: number, slotFd: number): Spawned;
  /**
   * The same on another thread, so that this one goes on with other launches (a library's)
   * while the executor is exec'd; absent, Launch calls spawn.
   */
  spawnAsync?(plan: Buffer, stdio: number[], cgroupFd: number, slotFd: number): Promise<Spawned>;
  /**
   * The init stage 1 cloned (pid -1: a stage-1 step failed, the socket says which), waited for
   * on the event loop: other launches in this process go on while stage 1 clones.
   */
  started(spawned: Spawned): Promise<Started>;
  /** The same, blocking: for an undo that cannot wait for the event loop */
  startedNow(spawned: Spawned): Started;
  /** resolves once the socket has a record (or its end): launches in one process overlap while each init works */
  readable(sock: number): Promise<void>;
  /** one record (an empty buffer at end of file), and the fd it carried or -1 */
  recv(sock: number, size: number): { data: Buffer; fd: number };
  send(sock: number, data: Buffer): void;
  close(sock: number): void;
  kill(pid: number, signal: NodeJS.Signals): void;
  waitpid(pid: number): WaitStatus | null;
}

export interface Spawned {
  /** the executor's pid until it exits, having cloned the init */
  stage1: number;
  pidPipe: number;
  sock: number;
}

export interface Started {
  pid: number;
  /** the init was cloned straight into the launch's cgroup2 directory (clone3 CLONE_INTO_CGROUP) */
  intoCgroup: boolean;
}

export const nativeExecutor: Executor = {
  spawn: (plan, stdio, cgroupFd, slotFd) => native().spawn(plan, stdio, cgroupFd, slotFd, executorPath(), ContainerLock.heldFds()),
  spawnAsync: (plan, stdio, cgroupFd, slotFd) =>
    native().spawnAsync(plan, stdio, cgroupFd, slotFd, executorPath(), ContainerLock.heldFds()),
  started: async (s) => {
    await native().readableAsync(s.pidPipe);
    return native().spawnFinish(s.pidPipe, s.stage1);
  },
  startedNow: (s) => native().spawnFinish(s.pidPipe, s.stage1),
  readable: (sock) => native().readableAsync(sock),
  recv: (sock, size) => native().recv(sock, size),
  send: (sock, data) => void fs.writeSync(sock, data),
  close: (sock) => fs.closeSync(sock),
  kill: (pid, signal) => void process.kill(pid, signal),
  waitpid: (pid) => native().waitpid(pid),
};
