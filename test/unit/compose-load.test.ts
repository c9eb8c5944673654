import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { interpolateString, parseDotEnv } from '../../src/compose/interpolate.js';
import { shellWords } from '../../src/compose/fields.js';
import { loadProject, projectFrom, startOrder } from '../../src/compose/project.js';
import { port, volume } from '../../src/compose/service.js';
import { portFlag, runArgs } from '../../src/compose/run-args.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function projectDir(files: Record<string, string>, name = 'Pencil Factory'): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'compose-'));
  dirs.push(root);
  const dir = path.join(root, name);
  fs.mkdirSync(dir);
  for (const [f, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), text);
  return dir;
}

const load = (doc: object, env: Record<string, string> = {}) =>
  projectFrom(doc as Record<string, unknown>, {
    files: ['/p/compose.yaml'],
    workingDir: '/p/app',
    env,
    readFile: () => 'FROM_FILE=1\nX=file\n',
  });

describe('interpolation', () => {
  const env = { A: 'a', EMPTY: '' };
  it.each([
    ['$A-${A}', 'a-a'],
    ['$$A', '$A'],
    ['${MISSING:-d}', 'd'],
    ['${EMPTY:-d}', 'd'],
    ['${EMPTY-d}', ''],
    ['${A:+alt}', 'alt'],
    ['${MISSING+alt}', ''],
    ['${MISSING:-${A}x}', 'ax'],
    ['cost $5', 'cost $5'],
  ])('%s → %s', (input, want) => expect(interpolateString(input, env, 'k')).toBe(want));

  it('names the key and the variable of a required one', () => {
    expect(() => interpolateString('${TOKEN:?set it}', env, 'services.web.environment.T')).toThrow(
      'services.web.environment.T: required variable TOKEN is not set: set it',
    );
    expect(() => interpolateString('${A', env, 'k')).toThrow('without its }');
  });

  it('reads .env as compose does', () => {
    expect(parseDotEnv('# c\nA=1\nexport B="x y"\nC=v # note\nD=\'$lit\'\n', '.env')).toEqual({ A: '1', B: 'x y', C: 'v', D: '$lit' });
    expect(() => parseDotEnv('oops\n', '/p/.env')).toThrow('/p/.env:1');
  });
});

describe('short forms', () => {
  it.each([
    ['80', { hostIp: '', published: '', target: '80', protocol: 'tcp' }, '80/tcp'],
    ['8080:80', { hostIp: '', published: '8080', target: '80', protocol: 'tcp' }, '8080:80/tcp'],
    ['127.0.0.1:53:53/udp', { hostIp: '127.0.0.1', published: '53', target: '53', protocol: 'udp' }, '127.0.0.1:53:53/udp'],
    ['127.0.0.1::80', { hostIp: '127.0.0.1', published: '', target: '80', protocol: 'tcp' }, '127.0.0.1::80/tcp'],
    ['[::1]:8080:80', { hostIp: '::1', published: '8080', target: '80', protocol: 'tcp' }, '[::1]:8080:80/tcp'],
    ['8000-8001:80-81', { hostIp: '', published: '8000-8001', target: '80-81', protocol: 'tcp' }, '8000-8001:80-81/tcp'],
  ])('port %s', (text, want, flag) => {
    expect(port(text, 'p')).toEqual(want);
    expect(portFlag(port(text, 'p'))).toBe(flag);
  });

  it('refuses a bad port with its path', () => {
    expect(() => port('80:http', 'services.web.ports[0]')).toThrow('services.web.ports[0]: "80:http" is not');
    expect(() => port('80/sctp', 'services.web.ports[0]')).toThrow('protocol "sctp"');
    expect(port({ target: 80, published: '8080', protocol: 'udp' }, 'p')).toEqual({
      hostIp: '',
      published: '8080',
      target: '80',
      protocol: 'udp',
    });
  });

  it('volumes: named, anonymous, bind relative to the project, long form', () => {
    expect(volume('db:/var/lib/db:ro', 'v', '/p')).toEqual({
      type: 'volume',
      source: 'db',
      target: '/var/lib/db',
      readOnly: true,
      noCopy: undefined,
    });
    expect(volume('/cache', 'v', '/p')).toEqual({ type: 'volume', target: '/cache', readOnly: false });
    expect(volume('./src:/src', 'v', '/p')).toMatchObject({ type: 'bind', source: '/p/src', target: '/src' });
    expect(volume({ type: 'tmpfs', target: '/t', tmpfs: { size: '1m' } }, 'v', '/p')).toMatchObject({ type: 'tmpfs', tmpfsSize: 1048576 });
    expect(() => volume('db:rel', 'services.a.volumes[0]', '/p')).toThrow('services.a.volumes[0]: "rel" is not an absolute path');
    expect(() => volume('a:/b:rx', 'v', '/p')).toThrow('mode "rx"');
  });

  it('commands split as a shell splits words', () => {
    expect(shellWords(`sh -c 'echo "$X" done' "a b" c\\ d`, 'c')).toEqual(['sh', '-c', 'echo "$X" done', 'a b', 'c d']);
    expect(() => shellWords(`echo 'x`, 'services.a.command')).toThrow('services.a.command: "echo \'x" has an unclosed \'');
  });
});

describe('a project', () => {
  it('takes its name from the directory, lower-cased, and prefixes networks and volumes', () => {
    const dir = projectDir({ 'compose.yaml': 'services:\n  web:\n    image: busybox\n    volumes: [data:/d]\nvolumes:\n  data:\n' });
    const p = loadProject({ cwd: dir, env: {} });
    expect(p.name).toBe('pencilfactory');
    expect(p.networks.default.name).toBe('pencilfactory_default');
    expect(p.volumes.data.name).toBe('pencilfactory_data');
    expect(p.services[0].networks).toEqual({ default: { aliases: [] } });
  });

  it('reads .env, lets the shell win, and finds the file from a subdirectory', () => {
    const dir = projectDir({
      'docker-compose.yml': 'name: ${NAME}\nservices:\n  a:\n    image: busybox:${TAG:-latest}\n',
      '.env': 'NAME=proj\nTAG=1.36\n',
    });
    fs.mkdirSync(path.join(dir, 'sub'));
    const p = loadProject({ cwd: path.join(dir, 'sub'), env: { TAG: '1.37' } });
    expect(p.name).toBe('proj');
    expect(p.services[0].image).toBe('busybox:1.37');
  });

  it('merges -f files in order', () => {
    const dir = projectDir({
      'a.yaml': 'services:\n  a:\n    image: busybox\n    environment: {X: "1", Y: "1"}\n',
      'b.yaml': 'services:\n  a:\n    environment: {Y: "2"}\n',
    });
    const p = loadProject({ cwd: dir, files: ['a.yaml', 'b.yaml'], env: {} });
    expect(p.services[0].environment).toEqual({ X: '1', Y: '2' });
  });

  it('says where the YAML is broken and when there is no file', () => {
    const dir = projectDir({ 'compose.yaml': 'services:\n  a:\n    image: [\n' });
    expect(() => loadProject({ cwd: dir, env: {} })).toThrow(/compose\.yaml: .*line/);
    const empty = projectDir({}, 'empty');
    expect(() => loadProject({ cwd: empty, env: {} })).toThrow(/no compose file here or above/);
  });

  it('names the service and key of every mistake', () => {
    expect(() => load({ services: { web: { image: 'b', prots: ['80'] } } })).toThrow(
      'services.web.prots: not a key tcr compose knows here',
    );
    expect(() => load({ services: { web: { build: '.' } } })).toThrow('services.web.build: tcr has no image builder');
    expect(() => load({ services: { web: {} } })).toThrow('services.web.image: missing');
    expect(() => load({ services: { web: { image: 'b', networks: ['back'] } } })).toThrow(
      'services.web.networks.back: network back is not defined under the top-level networks:',
    );
    expect(() => load({ services: { web: { image: 'b', volumes: ['db:/d'] } } })).toThrow('volume db is not defined');
    expect(() => load({ services: { web: { image: 'b', depends_on: ['db'] } } })).toThrow('services.web.depends_on.db: no service db');
    expect(() => load({ services: { web: { image: 'b', restart: 'sometimes' } } })).toThrow('services.web.restart: "sometimes"');
    expect(() => load({ services: { web: { image: 'b', mem_limit: 'lots' } } })).toThrow('services.web.mem_limit');
    expect(() => load({ services: { web: { image: 'b', container_name: 'web1', deploy: { replicas: 2 } } } })).toThrow(
      'one name cannot be given to 2 replicas',
    );
    expect(() => load({})).toThrow('services: missing');
  });

  it('refuses a dependency cycle and orders the rest', () => {
    expect(() =>
      load({ services: { a: { image: 'b', depends_on: ['b'] }, b: { image: 'b', depends_on: { a: { condition: 'service_healthy' } } } } }),
    ).toThrow('a dependency cycle: a → b → a');
    const p = load({
      services: {
        gw: { image: 'b', depends_on: ['asm'] },
        asm: { image: 'b', depends_on: ['lead', 'case'] },
        lead: { image: 'b' },
        case: { image: 'b' },
      },
    });
    expect(startOrder(p.services).map((s) => s.name)).toEqual(['lead', 'case', 'asm', 'gw']);
  });

  it('environment: env_file, then environment; a bare name takes the caller value', () => {
    const p = load(
      { services: { a: { image: 'b', env_file: '.env.a', environment: ['X=env', 'HOME_DIR', 'UNSET'] } } },
      { HOME_DIR: '/h' },
    );
    expect(p.services[0].environment).toEqual({ FROM_FILE: '1', X: 'env', HOME_DIR: '/h' });
  });

  it('deploy.resources and the short keys both reach the limits', () => {
    const p = load({
      services: { a: { image: 'b', deploy: { replicas: 3, resources: { limits: { cpus: '0.5', memory: '64m', pids: 50 } } } } },
    });
    expect(p.services[0]).toMatchObject({ replicas: 3, cpus: 0.5, memLimit: 64 * 1024 * 1024, pidsLimit: 50 });
  });
});

describe('run arguments', () => {
  it('name, labels, network with the service name as alias, ports, limits, command', () => {
    const p = load({
      services: {
        lead: {
          image: 'busybox',
          command: 'httpd -f -p 80',
          ports: ['8080:80'],
          volumes: ['data:/d:ro'],
          networks: { back: { aliases: ['graphite'] } },
          mem_limit: '32m',
          healthcheck: { test: ['CMD', 'wget', '-q', '-O-', 'http://localhost/'], interval: '2s' },
        },
      },
      networks: { back: {} },
      volumes: { data: {} },
    });
    const a = runArgs(p, p.services[0], 2);
    expect(a.slice(0, 3)).toEqual(['-d', '--name', 'app-lead-2']);
    expect(a).toEqual(expect.arrayContaining(['--label', 'com.docker.compose.project=app', '--label', 'com.docker.compose.service=lead']));
    const flag = (f: string) => a[a.indexOf(f) + 1];
    expect(flag('--network')).toBe('app_back');
    expect(a.filter((_, i) => a[i - 1] === '--network-alias')).toEqual(['lead', 'graphite']);
    expect(flag('-p')).toBe('8080:80/tcp');
    expect(flag('-v')).toBe('app_data:/d:ro');
    expect(flag('-m')).toBe(String(32 * 1024 * 1024));
    expect(flag('--health-cmd')).toBe('wget -q -O- http://localhost/');
    expect(a.slice(-5)).toEqual(['busybox', 'httpd', '-f', '-p', '80']);
  });
});
