// --trace=FILE is --trace-file FILE among create's and run's own flags only.
import { describe, expect, it } from 'vitest';
import { rewriteTraceFile } from '../../src/cli/trace-flag.js';

describe('--trace=FILE', () => {
  it("becomes --trace-file FILE in create's and run's flags", () => {
    expect(rewriteTraceFile(['create', '--trace=a.svg', 'id'])).toEqual(['create', '--trace-file', 'a.svg', 'id']);
    expect(rewriteTraceFile(['--root', '/r', 'run', '-b', 'd', '--trace=a.json', 'id'])).toEqual([
      '--root',
      '/r',
      'run',
      '-b',
      'd',
      '--trace-file',
      'a.json',
      'id',
    ]);
    expect(rewriteTraceFile(['create', 'id', '--trace=a.svg'])).toEqual(['create', 'id', '--trace-file', 'a.svg']);
  });

  it('leaves --trace alone, and a container command or another command its own --trace=', () => {
    expect(rewriteTraceFile(['create', '--trace', 'id'])).toEqual(['create', '--trace', 'id']);
    expect(rewriteTraceFile(['run', 'busybox', 'prog', '--trace=x'])).toEqual(['run', 'busybox', 'prog', '--trace=x']);
    expect(rewriteTraceFile(['run', '--name', '--trace=x', 'busybox'])).toEqual(['run', '--name', '--trace=x', 'busybox']);
    expect(rewriteTraceFile(['exec', 'id', '--trace=x'])).toEqual(['exec', 'id', '--trace=x']);
    expect(rewriteTraceFile(['create', '--', '--trace=x'])).toEqual(['create', '--', '--trace=x']);
  });
});
