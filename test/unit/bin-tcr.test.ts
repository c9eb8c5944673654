// bin/tcr, the shell front of the CLI: it must hand node every argument
// exactly, find tcr.cjs through a symlink, and drop NODE_EXTRA_CA_CERTS only
// for commands that cannot reach a registry (bin/tcr.cjs puts it back for the
// processes tcr starts). A stand-in `node` on PATH reports what it was given.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO } from '../helpers.js';
import { buildProgram } from '../../src/cli/main.js';
import { requireExtraCaCerts } from '../../src/image/extra-ca.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcr-bin-'));
fs.copyFileSync(path.join(REPO, 'bin', 'tcr'), path.join(dir, 'tcr'));
fs.symlinkSync(path.join(dir, 'tcr'), path.join(dir, 'linked-tcr'));
fs.mkdirSync(path.join(dir, 'path'));
// a shell stand-in: a node one would itself read NODE_EXTRA_CA_CERTS
fs.writeFileSync(
  path.join(dir, 'path', 'node'),
  [
    '#!/bin/sh',
    'printf "ca=%s\\n" "${NODE_EXTRA_CA_CERTS-}"',
    'printf "deferred=%s\\n" "${TCR_NODE_EXTRA_CA_CERTS-}"',
    'for a do printf "arg=%s\\n" "$a"; done',
    '',
  ].join('\n'),
  { mode: 0o755 },
);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function front(args: string[], ca?: string, script = 'tcr'): { args: string[]; ca: string | null; deferred: string | null } {
  const env: NodeJS.ProcessEnv = { PATH: `${path.join(dir, 'path')}:/usr/bin:/bin` };
  if (ca !== undefined) env.NODE_EXTRA_CA_CERTS = ca;
  const r = spawnSync(path.join(dir, script), args, { env, encoding: 'utf8' });
  expect(r.stderr).toBe('');
  const seen = { args: [] as string[], ca: null as string | null, deferred: null as string | null };
  for (const line of r.stdout.split('\n').slice(0, -1)) {
    const [key, value] = [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)];
    if (key === 'arg') seen.args.push(value);
    else if (key === 'ca' || key === 'deferred') seen[key] = value || null;
  }
  return seen;
}

describe('bin/tcr', () => {
  it('passes every argument to node exactly, after --, with the loader beside it', () => {
    const args = ['run', '--env-file', '/missing', '', 'a b', '$HOME', '"q"', '*'];
    expect(front(args).args).toEqual(['--', path.join(dir, 'tcr.cjs'), ...args]);
  });

  it('finds the loader beside the real file when called through a symlink', () => {
    expect(front(['state', 'x'], undefined, 'linked-tcr').args[1]).toBe(path.join(dir, 'tcr.cjs'));
  });

  it('drops NODE_EXTRA_CA_CERTS for a command that reaches no registry, and hands its value on', () => {
    for (const args of [
      ['state', 'x'],
      ['--root', '/r', '--log', 'pull', '--log-format', 'json', 'create', '--bundle', 'b', 'x'],
      ['--root=/r', 'kill', 'x', '9'],
      ['--version'],
      [],
      ['run', '--bundle', 'b', 'x'],
      ['run', '--rm', 'busybox'],
    ])
      expect(front(args, '/ca.pem'), args.join(' ')).toMatchObject({ ca: null, deferred: '/ca.pem' });
  });

  it('keeps NODE_EXTRA_CA_CERTS for the commands that exist to reach a registry', () => {
    for (const args of [
      ['pull', 'busybox'],
      ['--root', '/r', 'pull', '-q', 'busybox'],
      ['--debug', 'push', 'x'],
      ['login', 'r'],
      ['compose', 'up'],
    ])
      expect(front(args, '/ca.pem'), args.join(' ')).toMatchObject({ ca: '/ca.pem', deferred: null });
  });

  it('leaves the environment alone when the variable is not set', () => {
    expect(front(['state', 'x'])).toMatchObject({ ca: null, deferred: null });
  });

  it('skips the values of exactly the global options that take one', () => {
    const text = fs.readFileSync(path.join(REPO, 'bin', 'tcr'), 'utf8');
    const skipped = /^\s*(--[a-z-]+(?:\|--[a-z-]+)*)\) value=1 ;;$/m.exec(text)?.[1].split('|').sort();
    const withValue = buildProgram(undefined)
      .options.filter((o) => o.required || o.optional)
      .map((o) => o.long)
      .sort();
    expect(skipped).toEqual(withValue);
  });

  it('bin/tcr.cjs puts the variable back for the processes tcr starts', () => {
    const r = spawnSync(
      process.execPath,
      [
        '-e',
        `require(${JSON.stringify(path.join(REPO, 'bin', 'tcr.cjs'))}); console.log(process.env.NODE_EXTRA_CA_CERTS, process.env.TCR_NODE_EXTRA_CA_CERTS, globalThis[Symbol.for('tcr.extraCaCertsNotLoaded')])`,
      ],
      {
        env: { PATH: process.env.PATH, TCR_NODE_EXTRA_CA_CERTS: '/ca.pem' },
        encoding: 'utf8',
      },
    );
    expect(r.stdout.trim()).toBe('/ca.pem undefined /ca.pem');
  });

  it('a registry client of a command run without the CA file fails saying why', () => {
    const key = Symbol.for('tcr.extraCaCertsNotLoaded');
    const g = globalThis as Record<symbol, unknown>;
    expect(() => requireExtraCaCerts('https://registry.example')).not.toThrow();
    g[key] = '/ca.pem';
    try {
      expect(() => requireExtraCaCerts('https://registry.example/v2/')).toThrow(/without NODE_EXTRA_CA_CERTS=\/ca.pem/);
      expect(() => requireExtraCaCerts('http://127.0.0.1:5000/v2/')).not.toThrow();
    } finally {
      delete g[key];
    }
  });
});
