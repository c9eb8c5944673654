// What the monitor's flags parse into, without root: --restart and its
// backoff, the log times of --since/--until, and the health check from the
// flags over the image's Healthcheck.
import { describe, expect, it } from 'vitest';
import { Backoff, parseRestartPolicy, shouldRestart } from '../../src/run/restart-policy.js';
import { parseDuration, parseLogTime, parseRfc3339, rfc3339Nano } from '../../src/run/log-time.js';
import { resolveHealth } from '../../src/run/health.js';

describe('--restart', () => {
  it("reads docker's policies and refuses others naming the flag", () => {
    expect(parseRestartPolicy(undefined)).toEqual({ name: 'no' });
    expect(parseRestartPolicy('on-failure')).toEqual({ name: 'on-failure', maxRetries: 0 });
    expect(parseRestartPolicy('on-failure:5')).toEqual({ name: 'on-failure', maxRetries: 5 });
    expect(parseRestartPolicy('unless-stopped')).toEqual({ name: 'unless-stopped' });
    expect(() => parseRestartPolicy('always:2')).toThrow(/--restart "always:2": only on-failure/);
    expect(() => parseRestartPolicy('on-failure:-1')).toThrow(/--restart "on-failure:-1"/);
    expect(() => parseRestartPolicy('never')).toThrow(/--restart "never": not a policy/);
  });

  it('restarts as the policy says, never after a stop someone asked for', () => {
    const onFailure2 = parseRestartPolicy('on-failure:2');
    expect([
      shouldRestart(onFailure2, 1, 0, false),
      shouldRestart(onFailure2, 1, 2, false),
      shouldRestart(onFailure2, 0, 0, false),
    ]).toEqual([true, false, false]);
    expect(shouldRestart({ name: 'always' }, 0, 100, false)).toBe(true);
    expect(shouldRestart({ name: 'always' }, 137, 0, true)).toBe(false);
    expect(shouldRestart({ name: 'no' }, 1, 0, false)).toBe(false);
  });

  it('backs off as docker does: 100 ms doubling to a minute, back to 100 ms after 10 s up', () => {
    const b = new Backoff();
    const waits = Array.from({ length: 12 }, () => b.next(50));
    expect(waits.slice(0, 4)).toEqual([100, 200, 400, 800]);
    expect(waits[11]).toBe(60_000);
    expect(b.next(10_000)).toBe(100);
  });
});

describe('log times', () => {
  it('prints nine digits and reads RFC3339, Unix times and durations', () => {
    const t = parseRfc3339('2024-01-02T15:04:05.123456789Z')!;
    expect(rfc3339Nano(t)).toBe('2024-01-02T15:04:05.123456789Z');
    expect(parseRfc3339('2024-01-02T16:04:05+01:00')).toBe(parseRfc3339('2024-01-02T15:04:05Z'));
    expect(parseLogTime('--since', '1704207845.5')).toBe(parseRfc3339('2024-01-02T15:04:05.5Z'));
    expect(parseDuration('1h30m')).toBe(5_400_000_000_000n);
    expect(parseLogTime('--since', '10m', 1_000_000_000_000n)).toBe(400_000_000_000n);
    expect(() => parseLogTime('--until', 'later')).toThrow(/--until "later": not a time/);
  });
});

describe('health check', () => {
  const image = { Test: ['CMD', 'wget', '-q', 'localhost'], Interval: 5e9, Timeout: 2e9, Retries: 4, StartPeriod: 1e9 };

  it("takes the image's Healthcheck, and the flags over it", () => {
    expect(resolveHealth({}, image)).toEqual({
      command: ['wget', '-q', 'localhost'],
      intervalMs: 5000,
      timeoutMs: 2000,
      retries: 4,
      startPeriodMs: 1000,
    });
    expect(resolveHealth({ cmd: 'test -e /ok', interval: '1s', retries: '2' }, image)).toEqual({
      command: ['/bin/sh', '-c', 'test -e /ok'],
      intervalMs: 1000,
      timeoutMs: 2000,
      retries: 2,
      startPeriodMs: 1000,
    });
    expect(resolveHealth({ cmd: 'true' }, undefined)).toMatchObject({
      intervalMs: 30_000,
      timeoutMs: 30_000,
      retries: 3,
      startPeriodMs: 0,
    });
  });

  it('has none for NONE, no test or --no-healthcheck; refuses bad values naming the flag', () => {
    expect(resolveHealth({}, { Test: ['NONE'] })).toBeUndefined();
    expect(resolveHealth({}, undefined)).toBeUndefined();
    expect(resolveHealth({ disabled: true }, image)).toBeUndefined();
    expect(() => resolveHealth({ timeout: '5' }, image)).toThrow(/--health-timeout "5": not a duration/);
    expect(() => resolveHealth({ retries: 'many' }, image)).toThrow(/--health-retries "many"/);
  });
});
