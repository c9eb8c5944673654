// `tcr run IMAGE` makes its spec once: a draft before anything exists (every
// check and file read), finished with the network once that is prepared.
// What the network adds, and where: no root needed.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { imageRunOptions, type ImageRunFlags } from '../../src/cli/docker-commands.js';
import { buildImageSpec, draftImageSpec, finishImageSpec } from '../../src/run/image-spec.js';
import type { Mount } from '../../src/spec/types.js';

const BASE = {
  ...{ env: [], envFile: [], volume: [], mount: [], tmpfs: [], capAdd: [], capDrop: [], securityOpt: [] },
  ...{ network: 'bridge', publish: [], dns: [], dnsSearch: [], dnsOption: [], addHost: [], networkAlias: [], pull: 'never' },
} as ImageRunFlags;

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tcr-image-spec-'));
fs.mkdirSync(path.join(root, 'etc'));
fs.writeFileSync(path.join(root, 'etc', 'passwd'), 'root:x:0:0::/root:/bin/sh\n');
fs.writeFileSync(path.join(root, 'etc', 'group'), 'root:x:0:\n');
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const bind = (source: string, destination: string): Mount => ({ source, destination, type: 'bind', options: ['rbind'] });
const userHosts = bind('/srv/my-hosts', '/etc/hosts');
const etc = [bind('/c/hosts', '/etc/hosts'), bind('/c/resolv.conf', '/etc/resolv.conf'), bind('/c/hostname', '/etc/hostname')];
const ctx = { id: 'c1', rootfs: '/r', config: { config: {} } as never, lookupRoot: [root], userMounts: [userHosts] };
const options = (f: Partial<ImageRunFlags> = {}) => imageRunOptions('img', ['true'], { ...BASE, ...f });
const portMappings = [{ hostIP: '127.0.0.1', hostPort: 8080, containerPort: 80, protocol: 'tcp' }];
const bridge = { namespace: 'new' as const, mounts: etc, record: { portMappings } as never };

describe('the spec of tcr run, drafted then finished with its network', () => {
  it('draft and finish give what one build with the network gives', () => {
    const once = buildImageSpec(options(), { ...ctx, network: bridge });
    expect(finishImageSpec(draftImageSpec(options(), ctx), bridge)).toEqual(once);
  });

  it("the network's etc files go before the user's mounts, so that a -v over /etc/hosts wins, as in docker", () => {
    const s = finishImageSpec(draftImageSpec(options(), ctx), bridge);
    const dests = s.mounts!.map((m) => m.source);
    expect(dests.indexOf('/c/hosts')).toBeGreaterThan(-1);
    expect(dests.indexOf('/c/hosts')).toBeLessThan(dests.indexOf('/srv/my-hosts'));
    expect(s.mounts!.at(-1)).toEqual(userHosts);
  });

  it('the ports published stay in the run note (inspect shows them), the namespace a new one', () => {
    const s = finishImageSpec(draftImageSpec(options(), ctx), bridge);
    expect(JSON.parse(s.annotations!['dev.tcr.run']).ports).toEqual(portMappings);
    expect(s.linux!.namespaces!.filter((n) => n.type === 'network')).toEqual([{ type: 'network' }]);
  });

  it('container:NAME: its namespace joined by path, and its host name, given to the draft, in the spec and HOSTNAME', () => {
    const draft = draftImageSpec(options({ network: 'container:web' }), { ...ctx, network: { hostname: 'webhost' } });
    const s = finishImageSpec(draft, { namespace: { path: '/proc/42/ns/net' }, mounts: etc, hostname: 'webhost' });
    expect(s.hostname).toBe('webhost');
    expect(s.process!.env).toContain('HOSTNAME=webhost');
    expect(s.linux!.namespaces!.filter((n) => n.type === 'network')).toEqual([{ type: 'network', path: '/proc/42/ns/net' }]);
  });

  it('--network host: no network namespace, and a net.* sysctl refused in the draft, before anything is made', () => {
    const s = finishImageSpec(draftImageSpec(options({ network: 'host' }), ctx), { namespace: 'host', mounts: etc });
    expect(s.linux!.namespaces!.some((n) => n.type === 'network')).toBe(false);
    expect(() => draftImageSpec(options({ network: 'host', sysctl: ['net.ipv4.ip_forward=1'] }), ctx)).toThrow(/net\.ipv4\.ip_forward/);
  });
});
