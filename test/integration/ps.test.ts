// `tcr ps` without an id, as docker prints it: the columns, the human
// durations, the exit codes, -a/-q/-n/-l/-s/--no-trunc, --filter and
// --format, on image containers and a bundle container of a private root.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Sandbox, isRoot, lacks } from '../helpers.js';
import { OCI, editedLayout, freePort, haveCni } from './network-lib.js';

// a loaded machine makes each run slow: the tests' time is their commands'
describe.skipIf(lacks(isRoot && fs.existsSync(OCI)))('tcr ps (docker)', { timeout: 120_000 }, () => {
  const sb = new Sandbox('tcr-ps');
  const store = path.join(sb.dir, 'store');
  const tcr = (args: string[]) => sb.tcr(['--store', store, ...args]);
  const run = (...args: string[]) => {
    const r = tcr(['run', '--network', 'none', ...args]);
    expect(r.stderr).toBe('');
    return r;
  };
  const lines = (text: string) => text.split('\n').filter(Boolean);
  const rowOf = (text: string, name: string) => lines(text).find((l) => l.endsWith(` ${name}`) || l.includes(` ${name} `)) ?? '';
  beforeAll(() => {
    expect(tcr(['import', '-q', OCI, 'busybox']).status).toBe(0);
    expect(
      tcr([
        'import',
        '-q',
        editedLayout(path.join(sb.dir, 'labelled'), (c) => ({ ...c, Labels: { tier: 'web', 'com.example.team': 'a' } })),
        'labelled',
      ]).status,
    ).toBe(0);
  });
  afterAll(() => {
    for (const id of fs.existsSync(sb.root) ? fs.readdirSync(sb.root).filter((i) => !i.startsWith('.')) : []) tcr(['rm', '-f', id]);
    sb.cleanup();
  });

  it("prints docker's columns: Up, Exited (N) ... ago, Created, (Paused), newest first", () => {
    expect(run('-d', '--name', 'up', 'busybox', 'sleep', '300').status).toBe(0);
    expect(run('--name', 'ex3', 'busybox', 'sh', '-c', 'exit 3').status).toBe(3);
    expect(run('-d', '--name', 'frozen', 'busybox', 'sleep', '300').status).toBe(0);
    expect(tcr(['pause', 'frozen']).status).toBe(0);
    const bundle = sb.bundle('made', (s) => (s.process!.args = ['sleep', '300']));
    expect(tcr(['create', '--bundle', bundle, 'made']).status).toBe(0);

    const ps = tcr(['ps']);
    expect([ps.status, ps.stderr]).toEqual([0, '']);
    const [header, ...rows] = lines(ps.stdout);
    // docker's tabwriter: each column 3 spaces past its widest cell, and at least 10 wide
    expect(header).toMatch(/^CONTAINER ID {3}IMAGE {6}COMMAND {7}CREATED +STATUS +PORTS {5}NAMES$/);
    const col = (name: string) => header.indexOf(name);
    expect(rows.map((r) => r.split(/\s+/)[0])).toEqual(['made', 'frozen', 'up']); // newest first, no stopped one
    const up = rowOf(ps.stdout, 'up');
    expect(up.slice(col('IMAGE'), col('COMMAND')).trimEnd()).toBe('busybox');
    expect(up.slice(col('COMMAND'), col('CREATED')).trimEnd()).toBe('"sleep 300"');
    expect(up.slice(col('CREATED'), col('STATUS')).trimEnd()).toMatch(/^(Less than a second|\d+ seconds?) ago$/);
    expect(up.slice(col('STATUS'), col('PORTS')).trimEnd()).toMatch(/^Up (Less than a second|\d+ seconds?)$/);
    expect(up.slice(col('NAMES'))).toBe('up');
    expect(rowOf(ps.stdout, 'frozen').slice(col('STATUS'), col('PORTS')).trimEnd()).toMatch(/^Up .* \(Paused\)$/);
    const made = rowOf(ps.stdout, 'made');
    expect(made.slice(col('IMAGE'), col('COMMAND')).trimEnd()).toBe('(bundle)');
    expect(made.slice(col('STATUS'), col('PORTS')).trimEnd()).toBe('Created');

    const all = tcr(['ps', '-a']).stdout;
    const h = lines(all)[0];
    const ex = rowOf(all, 'ex3');
    expect(ex.slice(h.indexOf('STATUS'), h.indexOf('PORTS')).trimEnd()).toMatch(/^Exited \(3\) (Less than a second|\d+ seconds?) ago$/);
    expect(ex.slice(h.indexOf('COMMAND'), h.indexOf('CREATED')).trimEnd()).toBe('"sh -c exit 3"');
    expect(tcr(['resume', 'frozen']).status).toBe(0);
  });

  it('-q, -a, -n N and -l: ids only, stopped ones too, the last created', () => {
    expect(tcr(['ps', '-q']).stdout).toBe('made\nfrozen\nup\n');
    expect(tcr(['ps', '-aq']).stdout).toBe('made\nfrozen\nex3\nup\n');
    // -n and -l count stopped containers too, as docker's do
    expect(tcr(['ps', '-q', '-n', '3']).stdout).toBe('made\nfrozen\nex3\n');
    expect(tcr(['ps', '-q', '-l']).stdout).toBe('made\n');
    expect(lines(tcr(['ps', '-l']).stdout)).toHaveLength(2);
    const bad = tcr(['ps', '-n', 'x']);
    expect([bad.status, bad.stderr]).toEqual([125, expect.stringContaining('--last: "x" is not a number')]);
  });

  it('--no-trunc: the whole command; without it, 20 characters ending in …', () => {
    expect(run('-d', '--name', 'long', 'busybox', 'sh', '-c', 'sleep 300; echo a long command').status).toBe(0);
    const cmdOf = (text: string) => {
      const h = lines(text)[0];
      return rowOf(text, 'long').slice(h.indexOf('COMMAND'), h.indexOf('CREATED')).trimEnd();
    };
    try {
      expect(cmdOf(tcr(['ps']).stdout)).toBe('"sh -c sleep 300; ec…"');
      expect(cmdOf(tcr(['ps', '--no-trunc']).stdout)).toBe('"sh -c sleep 300; echo a long command"');
    } finally {
      expect(tcr(['rm', '-f', 'long']).status).toBe(0);
    }
  });

  it('--filter: name, id, status, exited, label, ancestor, before, since; one key any value, keys all', () => {
    expect(run('--name', 'lab', 'labelled', 'true').status).toBe(0);
    const q = (...f: string[]) => tcr(['ps', '-q', ...f.flatMap((x) => ['--filter', x])]).stdout;
    expect(q('name=fro')).toBe('frozen\n');
    expect(q('name=^up$')).toBe('up\n');
    expect(q('id=ma')).toBe('made\n');
    // a status filter lists stopped containers without -a, as docker's
    expect(q('status=exited')).toBe('lab\nex3\n');
    expect(q('status=created')).toBe('made\n');
    expect(tcr(['ps', '-aq', '-f', 'exited=3']).stdout).toBe('ex3\n');
    expect(tcr(['ps', '-aq', '-f', 'exited=0']).stdout).toBe('lab\n');
    expect(tcr(['ps', '-aq', '-f', 'label=tier']).stdout).toBe('lab\n');
    expect(tcr(['ps', '-aq', '-f', 'label=tier=web', '-f', 'label=com.example.team=a']).stdout).toBe('lab\n');
    expect(tcr(['ps', '-aq', '-f', 'label=tier=web', '-f', 'label=com.example.team=b']).stdout).toBe(''); // labels: every one
    expect(tcr(['ps', '-aq', '-f', 'ancestor=labelled']).stdout).toBe('lab\n');
    expect(tcr(['ps', '-aq', '-f', 'ancestor=busybox']).stdout).toBe('frozen\nex3\nup\n');
    expect(tcr(['ps', '-aq', '-f', 'before=ex3']).stdout).toBe('up\n');
    expect(tcr(['ps', '-aq', '-f', 'since=frozen']).stdout).toBe('lab\nmade\n');
    // two values of one key: either; two keys: both
    expect(q('name=up', 'name=made')).toBe('made\nup\n');
    expect(q('name=up', 'status=paused')).toBe('');
    expect(q('name=e', 'status=running')).toBe('frozen\n');
    for (const [f, msg] of [
      ['colour=red', "invalid filter 'colour'"],
      ['status=sleeping', "invalid filter 'status=sleeping'"],
      ['name', 'bad format of filter (expected name=value)'],
      ['exited=x', "invalid filter 'exited=x'"],
      ['before=nobody', 'before=nobody: no such container'],
    ]) {
      const r = tcr(['ps', '--filter', f]);
      expect([r.status, r.stdout, r.stderr], f).toEqual([125, '', expect.stringContaining(msg)]);
    }
  });

  it('--format: a template per line, table TEMPLATE with headers, json, {{.Label "k"}}', () => {
    expect(tcr(['ps', '--format', '{{.Names}}:{{.State}}:{{.Image}}']).stdout).toBe(
      'made:created:(bundle)\nfrozen:running:busybox\nup:running:busybox\n',
    );
    const t = tcr(['ps', '-a', '-f', 'name=lab', '--format', 'table {{.Names}}\\t{{.Label "tier"}}\\t{{.Labels}}\\t{{.Status}}']);
    expect(lines(t.stdout)[0]).toBe(`NAMES     TIER      LABELS${' '.repeat(24)}STATUS`);
    expect(lines(t.stdout)[1]).toMatch(/^lab {7}web {7}com\.example\.team=a,tier=web {3}Exited \(0\) .* ago$/);
    const j = lines(tcr(['ps', '--format', 'json', '-f', 'name=^up$']).stdout).map((l) => JSON.parse(l) as Record<string, string>);
    expect(j).toEqual([
      expect.objectContaining({
        ID: 'up',
        Names: 'up',
        Image: 'busybox',
        Command: '"sleep 300"',
        State: 'running',
        Networks: 'none',
        Ports: '',
      }),
    ]);
    expect(j[0].Status).toMatch(/^Up /);
    expect(j[0].RunningFor).toMatch(/ ago$/);
    expect(j[0].CreatedAt).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4} \w+$/);
    const bad = tcr(['ps', '--format', '{{.Nope}}']);
    expect([bad.status, bad.stderr]).toEqual([125, expect.stringContaining("can't evaluate field Nope")]);
  });

  it("-s: the size of the container's own layer, and with the image's", () => {
    expect(run('--name', 'writer', 'busybox', 'sh', '-c', 'head -c 5000 /dev/zero > /blob').status).toBe(0);
    const out = tcr(['ps', '-a', '-s', '-f', 'name=writer']).stdout;
    const h = lines(out)[0];
    expect(h).toMatch(/ NAMES {5}SIZE$/);
    expect(rowOf(out, 'writer').slice(h.indexOf('SIZE'))).toMatch(/^5kB \(virtual \d+(\.\d+)?MB\)$/);
    expect(tcr(['ps', '-a', '-f', 'name=writer', '--format', '{{.Size}}']).stdout).toMatch(/^5kB \(virtual /);
  });

  it.skipIf(!haveCni)('PORTS: the published ports as docker prints them', async () => {
    const port = await freePort();
    const r = tcr(['run', '-d', '--name', 'pub', '-p', `127.0.0.1:${port}:80`, 'busybox', 'sleep', '300']);
    expect([r.status, r.stderr]).toEqual([0, '']);
    try {
      expect(tcr(['ps', '-f', 'name=pub', '--format', '{{.Ports}}']).stdout).toBe(`127.0.0.1:${port}->80/tcp\n`);
    } finally {
      tcr(['rm', '-f', 'pub']);
    }
  });
});
