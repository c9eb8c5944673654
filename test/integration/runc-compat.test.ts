// Lifecycle details orchestrators rely on: the session keyring
// (--no-new-keyring) and socket activation (LISTEN_FDS), as runc does them.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Sandbox, TCR, isRoot, lacks } from '../helpers.js';

describe.skipIf(lacks(isRoot))('runc compatibility details', () => {
  const sb = new Sandbox('tcr-compat');
  afterAll(() => sb.cleanup());

  it('gives each container a new session keyring named _ses.ID, unless --no-new-keyring', () => {
    const keys = (s: { process?: { args?: string[] }; linux?: { maskedPaths?: string[] } }, id: string) => {
      s.process!.args = ['sh', '-c', `grep -c "_ses.${id}:" /proc/keys || true`];
      s.linux!.maskedPaths = s.linux!.maskedPaths!.filter((p) => p !== '/proc/keys');
    };
    const a = sb.bundle('keyring1', (s) => keys(s, 'keyring1'));
    expect(sb.tcr(['run', '--bundle', a, 'keyring1']).stdout.trim()).toBe('1');
    const b = sb.bundle('keyring2', (s) => keys(s, 'keyring2'));
    expect(sb.tcr(['run', '--no-new-keyring', '--bundle', b, 'keyring2']).stdout.trim()).toBe('0');
  });

  it('passes socket-activation fds on (LISTEN_FDS) and tells the process, as runc does', () => {
    const b = sb.bundle('listen', (s) => {
      s.process!.args = ['sh', '-c', 'echo $LISTEN_FDS $LISTEN_PID; echo via-fd3 >&3; ls /proc/self/fd | tr "\\n" " "'];
    });
    const out3 = path.join(sb.dir, 'fd3');
    const fd3 = fs.openSync(out3, 'w');
    const fd4 = fs.openSync('/dev/null', 'r');
    const r = spawnSync(TCR, ['--root', sb.root, 'run', '--bundle', b, 'listen'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe', fd3, fd4],
      env: { ...process.env, LISTEN_FDS: '2' },
    });
    fs.closeSync(fd3);
    fs.closeSync(fd4);
    const [env, fds] = r.stdout.split('\n');
    expect(env).toBe('2 1');
    expect(fds.trim().split(' ').map(Number)).toEqual([0, 1, 2, 3, 4, 5]); // 5: ls's own directory fd
    expect(fs.readFileSync(out3, 'utf8')).toBe('via-fd3\n');
  });
});
