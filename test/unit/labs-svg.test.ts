// The labs' SVG helpers (src/labs/svg.ts): escaping, ticks, wrapping, and
// that every chart is a well-formed XML document with what it was given.
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { barChart, escapeXml, fmt, lineChart, niceTicks, shorten, table, timeline, wrapText } from '../../src/labs/svg.js';
import { traceFigure } from '../../src/labs/anatomy-figure.js';

function wellFormed(svg: string): void {
  expect(XMLValidator.validate(svg)).toBe(true);
  const doc = new XMLParser({ ignoreAttributes: false }).parse(svg) as { svg: Record<string, string> };
  expect(doc.svg['@_xmlns']).toBe('http://www.w3.org/2000/svg');
}

const count = (s: string, what: RegExp): number => s.match(what)?.length ?? 0;

describe('svg helpers', () => {
  it('escapes the five XML characters and drops the control characters XML forbids', () => {
    expect(escapeXml(`<a href="x">&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&amp;&apos;&lt;/a&gt;');
    expect(escapeXml('a\u0001b\tc')).toBe('ab\tc');
  });

  it('formats numbers with three significant digits', () => {
    expect(fmt(0.0012345)).toBe('0.00123');
    expect(fmt(12.345)).toBe('12.3');
    expect(fmt(123456)).toBe('123456');
    expect(fmt(-0.0000001, 1)).toBe('-1e-7');
    expect(fmt(0)).toBe('0');
  });

  it('makes round ticks that cover the range', () => {
    expect(niceTicks(0, 118, 6)).toEqual([0, 20, 40, 60, 80, 100, 120]);
    expect(niceTicks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    const t = niceTicks(3.3, 7.7, 4);
    expect(t[0]).toBeLessThanOrEqual(3.3);
    expect(t[t.length - 1]).toBeGreaterThanOrEqual(7.7);
    expect(niceTicks(5, 5).length).toBeGreaterThan(1);
  });

  it('wraps at spaces, cuts a long word, and shortens with an ellipsis', () => {
    expect(wrapText('one two three four', 9)).toEqual(['one two', 'three', 'four']);
    expect(wrapText('abcdefghij', 4)).toEqual(['abcd', 'efgh', 'ij']);
    expect(wrapText('a\nb', 10)).toEqual(['a', 'b']);
    expect(shorten('abcdef', 4)).toBe('abc…');
    expect(shorten('abc', 4)).toBe('abc');
  });

  it('draws one bar per value, escaped labels included', () => {
    const svg = barChart({
      title: 'a <b> & c',
      unit: ' ms',
      bars: [
        { label: 'x<y', value: 3 },
        { label: 'z', value: 10 },
      ],
    });
    wellFormed(svg);
    expect(count(svg, /<rect [^>]*><title>/g)).toBe(2);
    expect(svg).toContain('x&lt;y: 3 ms');
  });

  it('draws one span group per span of a timeline, grouped under its lane, with a legend entry per kind', () => {
    const svg = timeline({
      title: 't',
      lanes: [
        { name: 'runtime', spans: [{ start: 0, end: 5, label: 'read', kind: 'other' }] },
        {
          name: 'init',
          spans: [
            { start: 5, end: 5.001, label: 'mount "proc"', kind: 'mounts' },
            { start: 6, end: 9, label: 'x'.repeat(200), kind: 'exec' },
          ],
        },
      ],
    });
    wellFormed(svg);
    expect(count(svg, /<g class="span"/g)).toBe(3);
    expect(count(svg, /data-kind="mounts"/g)).toBe(1);
    expect(svg).toContain('mount &quot;proc&quot;');
    expect(svg).toContain('…'); // the 200-character label is shortened, whole in its tooltip
    expect(svg).toContain(`<title>${'x'.repeat(200)}</title>`);
  });

  it('draws a line chart and a table as well-formed documents', () => {
    const chart = lineChart({
      title: 'l',
      xLabel: 'x',
      yLabel: 'y',
      series: [
        {
          name: 's',
          points: [
            [0, 1],
            [1, 3],
            [2, 2],
          ],
        },
      ],
    });
    wellFormed(chart);
    expect(count(chart, /<circle /g)).toBe(3);
    const t = table({
      title: 'tb',
      columns: ['a', 'b'],
      rows: [{ cells: ['1', 'a long cell that wraps '.repeat(5)], highlight: 'same' }],
      note: 'n',
    });
    wellFormed(t);
    expect(t).toContain('#fdecc8');
  });

  it("draws a trace's spans on three sides, a step's index before its label", () => {
    const svg = traceFigure({
      planSteps: 3,
      spans: [
        { side: 'runtime', label: 'build the plan', kind: 'other', start: 100, end: 101, result: 'ok' },
        { side: 'executor', label: 'clone', kind: 'namespaces', start: 101, end: 102, result: 'ok' },
        { side: 'init', label: 'mount proc on /proc', kind: 'mounts', start: 102, end: 102.5, step: 0, result: 'ok' },
        { side: 'init', label: 'seccomp filter', kind: 'seccomp', start: 102.5, end: 102.6, step: 1, result: 'ok' },
      ],
    });
    wellFormed(svg);
    expect(svg).toContain('2 of the plan&apos;s 3 steps reported');
    expect(count(svg, /<g class="span"/g)).toBe(4);
    expect(svg).toContain(' 0 mount proc on /proc');
  });
});
