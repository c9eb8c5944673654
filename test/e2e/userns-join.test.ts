// Joining a user namespace by path, as an OCI runtime's own client does it:
// `tcr spec` bundles on the demo busybox rootfs (owned by the mapped root,
// host uid 100000), one container with a user namespace of its own and
// uid/gid mappings (create + start), others whose config names it,
// {"type":"user","path":"/proc/PID/ns/user"}, alone or with its network and
// ipc namespaces, through `run` and through create + start. Once with tcr,
// once with runc (the control lane), each with its own --root in a directory
// only the host's root can search (0700): an init with the user namespace's
// credentials cannot open the exec fifo there by path.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO, TCR, isRoot, lacks } from '../helpers.js';
import type { Namespace, Spec } from '../../src/spec/types.js';
import { LANES, RUNC, run, squeezeMap, unmountUnder, userNsOf, waitFor, type Result } from './lib.js';

const available = isRoot && !!RUNC;
const HOST_ROOT = 100000;
const MAPPINGS = [{ containerID: 0, hostID: HOST_ROOT, size: 65536 }];
const LOOP = 'trap "exit 0" TERM; while :; do sleep 0.1; done';

for (const lane of LANES) {
  describe.skipIf(lacks(available))(
    `joining a user namespace by path with ${lane.name}${lane.name === 'runc' ? ' (the control lane)' : ''}`,
    () => {
      let dir = '';
      let root = '';
      let rootfs = '';
      let template: Spec;
      let ownerPid = 0;
      const ids: string[] = [];

      const rt = (args: string[], opts: { input?: string } = {}): Result =>
        run(lane.bin, ['--root', root, ...args], { input: opts.input ?? '' });
      const statusOf = (id: string): string => {
        const s = rt(['state', id]);
        return s.status === 0 ? (JSON.parse(s.stdout) as { status: string }).status : '';
      };
      /** A bundle on the shared rootfs running `sh -c script`, with the namespaces given (uts and mount always). */
      const bundle = (id: string, script: string, namespaces: Namespace[], mappings = true): string => {
        const b = path.join(dir, id);
        fs.mkdirSync(b);
        const spec = structuredClone(template);
        spec.process!.terminal = false;
        spec.process!.args = ['sh', '-c', script];
        spec.root = { path: rootfs, readonly: false };
        spec.linux!.namespaces = [{ type: 'mount' }, { type: 'uts' }, { type: 'pid' }, ...namespaces];
        if (mappings) {
          spec.linux!.uidMappings = MAPPINGS;
          spec.linux!.gidMappings = MAPPINGS;
        }
        fs.writeFileSync(path.join(b, 'config.json'), JSON.stringify(spec, null, 2));
        ids.push(id);
        return b;
      };
      /** create (its output to a file, the init keeping it open) + start; the pid of the running init. */
      const createStart = (id: string, b: string): number => {
        const out = fs.openSync(path.join(dir, `${id}.out`), 'w');
        const c = spawnSync(lane.bin, ['--root', root, 'create', '--bundle', b, id], { stdio: ['ignore', out, out], timeout: 30_000 });
        fs.closeSync(out);
        expect(c.status, fs.readFileSync(path.join(dir, `${id}.out`), 'utf8')).toBe(0);
        expect(statusOf(id)).toBe('created');
        const pid = (JSON.parse(rt(['state', id]).stdout) as { pid: number }).pid;
        // created: already in the new user namespace, with its mappings, waiting on the exec fifo
        expect(userNsOf(pid)).not.toBe(userNsOf('self'));
        const s = rt(['start', id]);
        expect(s.stderr).toBe('');
        expect(s.status).toBe(0);
        return pid;
      };
      const nsLink = (pid: number | 'self', ns: string): string => fs.readlinkSync(`/proc/${pid}/ns/${ns}`);
      const lines = (r: Result): string[] => r.stdout.split('\n').filter(Boolean);
      const SCRIPT =
        'id -u; id -g; cat /proc/self/uid_map; readlink /proc/self/ns/user; readlink /proc/self/ns/net; readlink /proc/self/ns/ipc';

      beforeAll(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), `tcr-e2e-userns-join-${lane.name}-`));
        // the mapped root reaches its rootfs; it must not reach the state root
        fs.chmodSync(dir, 0o711);
        fs.mkdirSync(path.join(dir, 'private'), { mode: 0o700 });
        root = path.join(dir, 'private', 'state');
        rootfs = path.join(dir, 'rootfs');
        expect(run('cp', ['-a', path.join(DEMO, 'rootfs'), rootfs]).status).toBe(0);
        // -h: the symlinks themselves (linuxrc -> /bin/busybox is the host's otherwise)
        expect(run('chown', ['-hR', `${HOST_ROOT}:${HOST_ROOT}`, rootfs]).status).toBe(0);
        fs.mkdirSync(path.join(dir, 'spec'));
        const spec = run(TCR, ['spec', '--bundle', path.join(dir, 'spec')]);
        expect(spec.status, spec.stderr).toBe(0);
        template = JSON.parse(fs.readFileSync(path.join(dir, 'spec', 'config.json'), 'utf8')) as Spec;
      }, 60_000);

      afterAll(() => {
        if (!dir) return;
        try {
          for (const id of ids.reverse()) rt(['delete', '--force', id]);
        } finally {
          unmountUnder(dir);
          fs.rmSync(dir, { recursive: true, force: true });
        }
      }, 60_000);

      it('the owner: create + start with a user namespace of its own (the init waits on the exec fifo between)', () => {
        ownerPid = createStart(
          'owner',
          bundle('owner', `touch /tmp/from-owner; ${LOOP}`, [{ type: 'user' }, { type: 'network' }, { type: 'ipc' }]),
        );
        expect(waitFor(() => statusOf('owner') === 'running')).toBe(true);
        expect(squeezeMap(fs.readFileSync(`/proc/${ownerPid}/uid_map`, 'utf8'))).toBe('0 100000 65536');
        expect(squeezeMap(fs.readFileSync(`/proc/${ownerPid}/gid_map`, 'utf8'))).toBe('0 100000 65536');
        expect(waitFor(() => fs.existsSync(path.join(rootfs, 'tmp', 'from-owner')))).toBe(true);
        expect(fs.statSync(path.join(rootfs, 'tmp', 'from-owner')).uid).toBe(HOST_ROOT);
      });

      it("exec into the owner: the init's user namespace", () => {
        expect(ownerPid).toBeGreaterThan(0);
        const e = rt(['exec', 'owner', 'sh', '-c', 'id -u; readlink /proc/self/ns/user']);
        expect(e.stderr).toBe('');
        expect(e.status).toBe(0);
        expect(lines(e)).toEqual(['0', userNsOf(ownerPid)]);
      });

      it("run joining the owner's user namespace by path (with the same mappings, which runc 1.1 requires): its own network and ipc", () => {
        expect(ownerPid).toBeGreaterThan(0);
        const b = bundle('joiner', `${SCRIPT}; touch /tmp/from-joiner`, [
          { type: 'user', path: `/proc/${ownerPid}/ns/user` },
          { type: 'network' },
          { type: 'ipc' },
        ]);
        const r = rt(['run', '--bundle', b, 'joiner']);
        expect(r.stderr).toBe('');
        expect(r.status).toBe(0);
        const [uid, gid, map, user, net, ipc] = lines(r);
        expect([uid, gid]).toEqual(['0', '0']);
        expect(squeezeMap(map)).toBe('0 100000 65536');
        expect(user).toBe(userNsOf(ownerPid));
        expect(net).not.toBe(nsLink(ownerPid, 'net'));
        expect(ipc).not.toBe(nsLink(ownerPid, 'ipc'));
        expect(fs.statSync(path.join(rootfs, 'tmp', 'from-joiner')).uid).toBe(HOST_ROOT);
      });

      it("run joining the owner's user, network and ipc namespaces by path", () => {
        expect(ownerPid).toBeGreaterThan(0);
        const b = bundle('joiner-all', SCRIPT, [
          { type: 'user', path: `/proc/${ownerPid}/ns/user` },
          { type: 'network', path: `/proc/${ownerPid}/ns/net` },
          { type: 'ipc', path: `/proc/${ownerPid}/ns/ipc` },
        ]);
        const r = rt(['run', '--bundle', b, 'joiner-all']);
        expect(r.stderr).toBe('');
        expect(r.status).toBe(0);
        expect(lines(r).slice(3)).toEqual([userNsOf(ownerPid), nsLink(ownerPid, 'net'), nsLink(ownerPid, 'ipc')]);
      });

      it("create + start joining the owner's user namespace by path; exec into the joiner", () => {
        expect(ownerPid).toBeGreaterThan(0);
        const b = bundle('joiner-cs', LOOP, [{ type: 'user', path: `/proc/${ownerPid}/ns/user` }, { type: 'network' }, { type: 'ipc' }]);
        const pid = createStart('joiner-cs', b);
        expect(userNsOf(pid)).toBe(userNsOf(ownerPid));
        const e = rt(['exec', 'joiner-cs', 'sh', '-c', 'id -u; readlink /proc/self/ns/user; cat /proc/self/uid_map']);
        expect(e.stderr).toBe('');
        expect(lines(e).slice(0, 2)).toEqual(['0', userNsOf(ownerPid)]);
        expect(squeezeMap(lines(e)[2])).toBe('0 100000 65536');
        expect(rt(['kill', 'joiner-cs', 'TERM']).status).toBe(0);
        expect(waitFor(() => statusOf('joiner-cs') === 'stopped')).toBe(true);
        expect(rt(['delete', 'joiner-cs']).status).toBe(0);
      });

      it("joining by path without uidMappings/gidMappings: the namespace's own mapping (runc 1.1 refuses; runc 1.2 and tcr read it)", () => {
        expect(ownerPid).toBeGreaterThan(0);
        const b = bundle(
          'joiner-nomap',
          SCRIPT,
          [{ type: 'user', path: `/proc/${ownerPid}/ns/user` }, { type: 'network' }, { type: 'ipc' }],
          false,
        );
        const r = rt(['run', '--bundle', b, 'joiner-nomap']);
        if (lane.name === 'runc' && r.status !== 0) {
          expect(r.stderr).toContain('no uid mappings found');
          return;
        }
        expect(r.stderr).toBe('');
        expect(r.status).toBe(0);
        expect(lines(r)[0]).toBe('0');
        expect(squeezeMap(lines(r)[2])).toBe('0 100000 65536');
        expect(lines(r)[3]).toBe(userNsOf(ownerPid));
      });

      it('the owner stops on TERM and is deleted', () => {
        expect(ownerPid).toBeGreaterThan(0);
        expect(rt(['kill', 'owner', 'TERM']).status).toBe(0);
        expect(waitFor(() => statusOf('owner') === 'stopped')).toBe(true);
        expect(rt(['delete', 'owner']).status).toBe(0);
      });
    },
  );
}
