// `ps --filter` and the prune filters read as docker reads them, and the
// --format tables laid out as docker's tabwriter does; without root.
import { describe, expect, it } from 'vitest';
import type { ContainerView } from '../../src/cli/container-view.js';
import { filterPredicate, parseFilters } from '../../src/cli/ps-filters.js';
import { parseFilters as pruneFilters, untilTime } from '../../src/cli/prune-filters.js';
import { renderList } from '../../src/cli/list-format.js';

const view = (id: string, over: Partial<ContainerView> = {}): ContainerView => ({
  id,
  image: 'busybox',
  imageId: 'sha256:' + 'ab'.repeat(32),
  args: ['sleep', '1'],
  created: new Date(0),
  status: 'running',
  ports: [],
  labels: {},
  network: 'none',
  mounts: [],
  ...over,
});

describe('ps --filter', () => {
  const all = [
    view('web', { created: new Date(1000), labels: { tier: 'front' } }),
    view('db', { created: new Date(2000), status: 'stopped', exit: { code: 3, finishedAt: '' }, labels: { tier: 'back', k: '' } }),
    view('cache', { created: new Date(3000), status: 'paused', image: 'redis', imageId: 'sha256:' + 'cd'.repeat(32) }),
  ];
  const ids = (...specs: string[]) => {
    const keep = filterPredicate(parseFilters(specs), { all, imageIdOf: (r) => (r === 'busybox' ? all[0].imageId : undefined) });
    return all.filter(keep).map((v) => v.id);
  };

  it('one key: any value; keys: all; every label', () => {
    expect(ids('name=web', 'name=db')).toEqual(['web', 'db']);
    expect(ids('name=e', 'status=running')).toEqual(['web']);
    expect(ids('label=tier')).toEqual(['web', 'db']);
    expect(ids('label=tier=back', 'label=k')).toEqual(['db']);
    expect(ids('label=tier=back', 'label=nope')).toEqual([]);
    expect(ids('status=exited')).toEqual(['db']);
    expect(ids('status=paused')).toEqual(['cache']);
    expect(ids('exited=3')).toEqual(['db']);
    expect(ids('ancestor=busybox')).toEqual(['web', 'db']);
    expect(ids('ancestor=cdcd')).toEqual(['cache']);
    expect(ids('before=db')).toEqual(['web']);
    expect(ids('since=web')).toEqual(['db', 'cache']);
    expect(ids('name=^/?web$')).toEqual(['web']);
  });

  it('refuses what docker refuses, naming the filter', () => {
    expect(() => parseFilters(['nope=1'])).toThrow("invalid filter 'nope'");
    expect(() => parseFilters(['name'])).toThrow('bad format of filter (expected name=value)');
    expect(() => parseFilters(['status=up'])).toThrow("invalid filter 'status=up'");
    expect(() => parseFilters(['exited=x'])).toThrow("invalid filter 'exited=x'");
    expect(() => ids('before=nobody')).toThrow('before=nobody: no such container');
  });
});

describe('prune --filter', () => {
  it('until: a duration back from now, or a time; label and label!', () => {
    const now = Date.parse('2026-01-02T00:00:00Z');
    expect(untilTime('24h', now)).toBe(Date.parse('2026-01-01T00:00:00Z'));
    expect(untilTime('90m', now)).toBe(now - 90 * 60_000);
    expect(untilTime('1700000000', now)).toBe(1_700_000_000_000);
    expect(untilTime('2025-12-31T00:00:00Z', now)).toBe(Date.parse('2025-12-31T00:00:00Z'));
    expect(() => untilTime('soon')).toThrow('until=soon: not a duration');
    const f = pruneFilters(['until=2025-06-01T00:00:00Z', 'label!=keep'], ['until', 'label', 'label!']);
    expect(f({ created: '2025-01-01T00:00:00Z', labels: {} })).toBe(true);
    expect(f({ created: '2025-01-01T00:00:00Z', labels: { keep: '' } })).toBe(false);
    expect(f({ created: '2025-07-01T00:00:00Z', labels: {} })).toBe(false);
    expect(() => pruneFilters(['label=x'], ['until'])).toThrow("invalid filter 'label'");
  });
});

describe('--format lists', () => {
  const items = [
    { ID: 'a', Names: 'a', Label: (k: string) => (k === 'x' ? '1' : '') },
    { ID: 'longer-name', Names: 'longer-name', Label: () => '' },
  ];
  const headerOf = (f: string, arg?: string) => (f === 'Label' ? arg!.toUpperCase() : f.toUpperCase());

  it('table TEMPLATE: headers, cells at least 10 wide and 3 apart; \\t in the template is a tab', () => {
    expect(renderList('table {{.ID}}\\t{{.Label "x"}}\\t{{.Names}}', items, headerOf, items[0])).toBe(
      `${'ID'.padEnd(14)}${'X'.padEnd(10)}NAMES\n${'a'.padEnd(14)}${'1'.padEnd(10)}a\n${'longer-name'.padEnd(24)}longer-name\n`,
    );
  });

  it('a bare template: one line per item; json: one object per line', () => {
    expect(renderList('{{.Names}}={{.Label "x"}}', items, headerOf, items[0])).toBe('a=1\nlonger-name=\n');
    expect(renderList('json', [{ ID: 'a' }], headerOf, {})).toBe('{"ID":"a"}\n');
  });
});
