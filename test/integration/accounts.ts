// Real accounts for the rootless tests (rootless.test.ts, rootless-image.test.ts):
// made by useradd with exactly the subordinate ranges a test asks for, each
// with an XDG_RUNTIME_DIR of its own, and removed with every trace of them.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface Account {
  name: string;
  uid: number;
  gid: number;
  /** its XDG_RUNTIME_DIR, made by the test */
  runtimeDir: string;
}

const sh = (cmd: string, args: string[]) => spawnSync(cmd, args, { encoding: 'utf8' });

/** `rangeBase`: /etc/subuid and /etc/subgid ranges of 65536 from there; undefined: none. The runtime dir goes under `dir`. */
export function makeAccount(name: string, rangeBase: number | undefined, dir: string): Account {
  // SUB_*_COUNT=0: useradd gives no ranges of its own accord; the test adds exactly the ones it wants
  const r = sh('useradd', ['-m', '-K', 'SUB_UID_COUNT=0', '-K', 'SUB_GID_COUNT=0', name]);
  if (r.status !== 0) throw new Error(`useradd ${name}: ${r.stderr}`);
  const range = `${rangeBase}-${(rangeBase ?? 0) + 65535}`;
  if (rangeBase !== undefined && sh('usermod', ['--add-subuids', range, '--add-subgids', range, name]).status !== 0)
    throw new Error(`usermod ${name}`);
  const uid = Number(sh('id', ['-u', name]).stdout.trim());
  const gid = Number(sh('id', ['-g', name]).stdout.trim());
  const runtimeDir = path.join(dir, `run-${name}`);
  fs.mkdirSync(runtimeDir, { mode: 0o700 });
  fs.chownSync(runtimeDir, uid, gid);
  return { name, uid, gid, runtimeDir };
}

/** The pids of the account's processes. */
export function processesOf(a: Account): number[] {
  return sh('ps', ['-o', 'pid=', '-u', String(a.uid)])
    .stdout.split('\n')
    .map((l) => Number(l.trim()))
    .filter((p) => p > 0);
}

/** The account, its home and its subordinate ranges. */
export function removeAccount(a: Account): void {
  // a user's image store holds files of their range: userdel -r cannot be refused by them
  fs.rmSync(`/home/${a.name}`, { recursive: true, force: true });
  sh('userdel', ['-r', a.name]);
  // userdel removes the account's subordinate ranges; a failed useradd/usermod may not have
  for (const file of ['/etc/subuid', '/etc/subgid']) {
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    const kept = lines.filter((l) => !l.startsWith(`${a.name}:`));
    if (kept.length !== lines.length) fs.writeFileSync(file, kept.join('\n'));
  }
}
