// docker's words for durations and sizes (go-units), which ps, stats and prune print.
import { describe, expect, it } from 'vitest';
import { binarySize, decimalSize, ellipsis, humanDuration } from '../../src/cli/human-units.js';

describe('human units', () => {
  it('durations as units.HumanDuration words them', () => {
    const s = 1000;
    const h = 3600 * s;
    expect(humanDuration(400)).toBe('Less than a second');
    expect(humanDuration(1 * s)).toBe('1 second');
    expect(humanDuration(59 * s)).toBe('59 seconds');
    expect(humanDuration(60 * s)).toBe('About a minute');
    expect(humanDuration(119 * s)).toBe('About a minute');
    expect(humanDuration(120 * s)).toBe('2 minutes');
    expect(humanDuration(59 * 60 * s)).toBe('59 minutes');
    expect(humanDuration(60 * 60 * s)).toBe('About an hour');
    expect(humanDuration(90 * 60 * s)).toBe('2 hours'); // hours are rounded
    expect(humanDuration(47 * h)).toBe('47 hours');
    expect(humanDuration(48 * h)).toBe('2 days');
    expect(humanDuration(14 * 24 * h)).toBe('2 weeks');
    expect(humanDuration(60 * 24 * h)).toBe('2 months');
    expect(humanDuration(2 * 365 * 24 * h)).toBe('2 years');
  });

  it('sizes: decimal with 3 digits (ps, prune), binary with 4 (stats)', () => {
    expect(decimalSize(0)).toBe('0B');
    expect(decimalSize(5000)).toBe('5kB');
    expect(decimalSize(4096)).toBe('4.1kB');
    expect(decimalSize(2_130_000)).toBe('2.13MB');
    expect(binarySize(1536 * 1024)).toBe('1.5MiB');
    expect(binarySize(8_345_000_000)).toBe('7.772GiB');
    expect(binarySize(512)).toBe('512B');
  });

  it('ellipsis: at most N characters, the last one …', () => {
    expect(ellipsis('short', 20)).toBe('short');
    expect(ellipsis('abcdefghijklmnopqrstuvwxyz', 20)).toBe('abcdefghijklmnopqrs…');
  });
});
