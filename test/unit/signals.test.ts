import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { TcrError } from '../../src/errors.js';
import { parseSignal, signalName } from '../../src/container/signals.js';

describe('parseSignal', () => {
  it('accepts a name with or without SIG, in any case, or a number', () => {
    for (const s of ['KILL', 'SIGKILL', 'kill', 'sigkill', 'Kill', '9']) expect(parseSignal(s), s).toBe(9);
    expect(parseSignal('TERM')).toBe(15);
    expect(parseSignal('SIGHUP')).toBe(1);
    expect(parseSignal('usr1')).toBe(os.constants.signals.SIGUSR1);
    expect(parseSignal('WINCH')).toBe(28);
    expect(parseSignal('1')).toBe(1);
    expect(parseSignal('64')).toBe(64);
  });

  it('defaults to SIGTERM', () => {
    expect(parseSignal(undefined)).toBe(15);
    expect(parseSignal('')).toBe(15);
  });

  it('accepts real-time signals by offset', () => {
    expect(parseSignal('SIGRTMIN')).toBe(34);
    expect(parseSignal('SIGRTMIN+1')).toBe(35);
    expect(parseSignal('RTMIN+1')).toBe(35);
    expect(parseSignal('rtmin+30')).toBe(64);
    expect(parseSignal('SIGRTMAX')).toBe(64);
    expect(parseSignal('SIGRTMAX-1')).toBe(63);
    expect(parseSignal('RTMAX-30')).toBe(34);
  });

  it('rejects unknown names and numbers out of range', () => {
    for (const s of ['FOO', 'SIGFOO', 'SIG', '0', '65', '-9', '9x', 'SIGRTMIN+31', 'SIGRTMAX-31', 'SIGRTMIN-1', 'KILL ']) {
      expect(() => parseSignal(s), s).toThrow(TcrError);
    }
    expect(() => parseSignal('FOO')).toThrow(/invalid signal "FOO"/);
  });
});

describe('signalName', () => {
  it('names known signals', () => {
    expect(signalName(9)).toBe('SIGKILL');
    expect(signalName(99)).toBe('signal 99');
  });
});
