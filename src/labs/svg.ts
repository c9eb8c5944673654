// Pictures for the labs, written as SVG text by hand: a chart library would be
// the largest dependency of the runtime for a few rectangles and labels.
//
// API (every function returns SVG markup as a string; the chart functions a whole document):
//   escapeXml(s)                        text safe inside an element or a "quoted" attribute
//   fmt(n, digits?)                     a number for a label: 3 significant digits, no "-0"
//   text(x, y, s, {size, anchor, weight, fill, family, title})
//   rect(x, y, w, h, {fill, stroke, rx, title})   title: a hover tooltip (<title> child)
//   line(x1, y1, x2, y2, {stroke, width, dash})
//   linearScale([d0, d1], [r0, r1])     (v) => pixel; niceTicks(min, max, count?) → round tick values
//   xAxis(scale, ticks, y, {label, unit}) / yAxis(scale, ticks, x, {label, unit})  axis line, ticks, labels
//   svgDocument(width, height, body[], {title, description})   the <svg> root with a white background
//   barChart({title, unit, bars: [{label, value, color?, note?}]})                horizontal bars
//   timeline({title, unit, lanes: [{name, spans: [{start, end, label, kind}]}], colors?: {kind: colour}})
//       one row per lane, each span a bar from start to end with its label and duration; legend by kind
//   lineChart({title, xLabel, yLabel, series: [{name, color?, points: [[x, y]...]}]})
//   table({title, columns: string[], rows: [{cells: string[], highlight?: 'same' | 'differs'}], note?})
//   wrapText(s, max) → lines; shorten(s, max) → s or its start and '…'; textWidth(s, size) ≈ pixels
//   PALETTE                             colours in order, colorFor(i)

export const PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];
export const colorFor = (i: number): string => PALETTE[((i % PALETTE.length) + PALETTE.length) % PALETTE.length];

const FONT = 'DejaVu Sans, Verdana, Arial, sans-serif';

export function escapeXml(s: string): string {
  // characters XML 1.0 forbids even escaped: dropped, so a stray control byte in measured output cannot break the file
  // eslint-disable-next-line no-control-regex
  const clean = s.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '');
  return clean.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

export function fmt(n: number, digits = 3): string {
  if (!Number.isFinite(n)) return String(n);
  if (n === 0) return '0';
  const abs = Math.abs(n);
  const s = abs >= 10 ** digits ? Math.round(n).toString() : Number(n.toPrecision(digits)).toString();
  return s === '-0' ? '0' : s;
}

/** A number for an attribute: two decimals at most, so the file stays small and stable. */
const num = (n: number): string => (Number.isFinite(n) ? String(Math.round(n * 100) / 100) : '0');

interface TextOptions {
  size?: number;
  anchor?: 'start' | 'middle' | 'end';
  weight?: 'normal' | 'bold';
  fill?: string;
  family?: string;
  title?: string;
}

export function text(x: number, y: number, s: string, o: TextOptions = {}): string {
  const attrs = [
    `x="${num(x)}"`,
    `y="${num(y)}"`,
    `font-size="${o.size ?? 12}"`,
    `font-family="${escapeXml(o.family ?? FONT)}"`,
    o.anchor && o.anchor !== 'start' ? `text-anchor="${o.anchor}"` : '',
    o.weight === 'bold' ? 'font-weight="bold"' : '',
    `fill="${escapeXml(o.fill ?? '#222')}"`,
  ].filter(Boolean);
  const tip = o.title ? `<title>${escapeXml(o.title)}</title>` : '';
  return `<text ${attrs.join(' ')}>${tip}${escapeXml(s)}</text>`;
}

interface RectOptions {
  fill?: string;
  stroke?: string;
  rx?: number;
  title?: string;
}

export function rect(x: number, y: number, w: number, h: number, o: RectOptions = {}): string {
  const attrs = [
    `x="${num(x)}"`,
    `y="${num(y)}"`,
    `width="${num(Math.max(0, w))}"`,
    `height="${num(Math.max(0, h))}"`,
    `fill="${escapeXml(o.fill ?? PALETTE[0])}"`,
    o.stroke ? `stroke="${escapeXml(o.stroke)}"` : '',
    o.rx ? `rx="${num(o.rx)}"` : '',
  ].filter(Boolean);
  return o.title ? `<rect ${attrs.join(' ')}><title>${escapeXml(o.title)}</title></rect>` : `<rect ${attrs.join(' ')}/>`;
}

interface LineOptions {
  stroke?: string;
  width?: number;
  dash?: string;
}

export function line(x1: number, y1: number, x2: number, y2: number, o: LineOptions = {}): string {
  const dash = o.dash ? ` stroke-dasharray="${escapeXml(o.dash)}"` : '';
  return `<line x1="${num(x1)}" y1="${num(y1)}" x2="${num(x2)}" y2="${num(y2)}" stroke="${escapeXml(o.stroke ?? '#444')}" stroke-width="${o.width ?? 1}"${dash}/>`;
}

export type Scale = (v: number) => number;

export function linearScale(domain: [number, number], range: [number, number]): Scale {
  const [d0, d1] = domain;
  const [r0, r1] = range;
  const span = d1 - d0 || 1;
  return (v: number) => r0 + ((v - d0) / span) * (r1 - r0);
}

/** About `count` round tick values (1, 2 or 5 times a power of ten apart) covering [min, max]. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [0];
  if (max < min) [min, max] = [max, min];
  if (max === min) max = min + 1;
  const raw = (max - min) / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? raw;
  const ticks: number[] = [];
  for (let v = Math.floor(min / step) * step; v <= max + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  if (ticks[ticks.length - 1] < max) ticks.push(Number((ticks[ticks.length - 1] + step).toPrecision(12)));
  return ticks;
}

interface AxisOptions {
  label?: string;
  unit?: string;
}

/** A horizontal axis at height y: line, tick marks below it, and the value under each. */
export function xAxis(scale: Scale, ticks: number[], y: number, o: AxisOptions = {}): string {
  const x0 = scale(ticks[0]);
  const x1 = scale(ticks[ticks.length - 1]);
  const parts = [line(x0, y, x1, y)];
  for (const t of ticks) {
    parts.push(line(scale(t), y, scale(t), y + 5));
    parts.push(text(scale(t), y + 18, `${fmt(t)}${o.unit ?? ''}`, { size: 11, anchor: 'middle', fill: '#555' }));
  }
  if (o.label) parts.push(text((x0 + x1) / 2, y + 36, o.label, { size: 12, anchor: 'middle' }));
  return parts.join('\n');
}

/** A vertical axis at x: line, tick marks left of it, and the value beside each. */
export function yAxis(scale: Scale, ticks: number[], x: number, o: AxisOptions = {}): string {
  const parts = [line(x, scale(ticks[0]), x, scale(ticks[ticks.length - 1]))];
  for (const t of ticks) {
    parts.push(line(x - 5, scale(t), x, scale(t)));
    parts.push(text(x - 8, scale(t) + 4, `${fmt(t)}${o.unit ?? ''}`, { size: 11, anchor: 'end', fill: '#555' }));
  }
  if (o.label) {
    const mid = (scale(ticks[0]) + scale(ticks[ticks.length - 1])) / 2;
    parts.push(`<g transform="translate(${num(x - 48)} ${num(mid)}) rotate(-90)">${text(0, 0, o.label, { anchor: 'middle' })}</g>`);
  }
  return parts.join('\n');
}

export function svgDocument(width: number, height: number, body: string[], o: { title?: string; description?: string } = {}): string {
  const head = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${num(width)}" height="${num(height)}" viewBox="0 0 ${num(width)} ${num(height)}">`,
    o.title ? `<title>${escapeXml(o.title)}</title>` : '',
    o.description ? `<desc>${escapeXml(o.description)}</desc>` : '',
    `<rect x="0" y="0" width="${num(width)}" height="${num(height)}" fill="#fff"/>`,
  ].filter(Boolean);
  return `${[...head, ...body, '</svg>'].join('\n')}\n`;
}

/** A rough width of `s` in pixels at font size `size` (no font metrics at hand: an average glyph). */
export const textWidth = (s: string, size = 12): number => s.length * size * 0.6;

export interface Bar {
  label: string;
  value: number;
  color?: string;
  note?: string;
}

export function barChart(o: { title: string; unit?: string; bars: Bar[]; width?: number }): string {
  const width = o.width ?? 720;
  const labelWidth = Math.min(260, Math.max(60, ...o.bars.map((b) => textWidth(b.label))) + 16);
  const left = labelWidth;
  const right = width - 90;
  const rowHeight = 26;
  const top = 44;
  const max = Math.max(0, ...o.bars.map((b) => b.value));
  const ticks = niceTicks(0, max || 1);
  const x = linearScale([0, ticks[ticks.length - 1]], [left, right]);
  const body = [text(12, 24, o.title, { size: 15, weight: 'bold' })];
  o.bars.forEach((b, i) => {
    const y = top + i * rowHeight;
    const value = `${fmt(b.value)}${o.unit ?? ''}`;
    body.push(text(left - 8, y + 16, b.label, { anchor: 'end' }));
    body.push(rect(left, y + 3, x(b.value) - left, rowHeight - 8, { fill: b.color ?? colorFor(i), title: `${b.label}: ${value}` }));
    body.push(text(x(b.value) + 6, y + 16, b.note ? `${value} ${b.note}` : value, { size: 11, fill: '#333' }));
  });
  const axisY = top + o.bars.length * rowHeight + 4;
  body.push(xAxis(x, ticks, axisY, { unit: o.unit }));
  return svgDocument(width, axisY + 30, body, { title: o.title });
}

export interface Span {
  start: number;
  end: number;
  label: string;
  kind: string;
}

export interface Lane {
  name: string;
  spans: Span[];
}

/**
 * Spans on a common time axis, one row per span grouped under its lane's name: a short step stays
 * readable beside a long one because each has a row of its own, its bar at its true position.
 */
export function timeline(o: { title: string; unit?: string; lanes: Lane[]; colors?: Record<string, string>; width?: number }): string {
  const width = o.width ?? 900;
  const unit = o.unit ?? 'ms';
  const kinds = [...new Set(o.lanes.flatMap((l) => l.spans.map((s) => s.kind)))];
  const colors = (kind: string): string => o.colors?.[kind] ?? colorFor(kinds.indexOf(kind));
  const spans = o.lanes.flatMap((l) => l.spans);
  const labelWidth = Math.min(360, Math.max(80, ...spans.map((s) => textWidth(s.label, 11))) + 24);
  const labelChars = Math.floor((labelWidth - 24) / (11 * 0.6));
  const left = labelWidth;
  const right = width - 110;
  const start = Math.min(0, ...spans.map((s) => s.start));
  const end = Math.max(start + 1e-9, ...spans.map((s) => s.end));
  const ticks = niceTicks(start, end, 6);
  const x = linearScale([ticks[0], ticks[ticks.length - 1]], [left, right]);
  const rowHeight = 17;
  const body = [text(12, 24, o.title, { size: 15, weight: 'bold' })];
  let y = 44;
  for (const lane of o.lanes) {
    body.push(text(12, y + 13, lane.name, { size: 13, weight: 'bold' }));
    body.push(line(12, y + 18, right, y + 18, { stroke: '#ccc' }));
    y += 24;
    for (const s of lane.spans) {
      const duration = `${fmt(s.end - s.start)} ${unit}`;
      const barStart = x(s.start);
      const barWidth = Math.max(2, x(s.end) - barStart);
      body.push(`<g class="span" data-kind="${escapeXml(s.kind)}">`);
      body.push(text(left - 8, y + 12, shorten(s.label, labelChars), { size: 11, anchor: 'end', title: s.label }));
      body.push(rect(barStart, y + 2, barWidth, rowHeight - 4, { fill: colors(s.kind), title: `${s.label} (${s.kind}): ${duration}` }));
      body.push(text(barStart + barWidth + 5, y + 12, duration, { size: 10, fill: '#444' }));
      body.push('</g>');
      y += rowHeight;
    }
    y += 8;
  }
  body.push(xAxis(x, ticks, y + 2, { unit: ` ${unit}` }));
  y += 40;
  let lx = 12;
  for (const kind of kinds) {
    body.push(rect(lx, y, 12, 12, { fill: colors(kind) }));
    body.push(text(lx + 17, y + 10, kind, { size: 11 }));
    lx += 30 + textWidth(kind, 11);
  }
  return svgDocument(width, y + 24, body, { title: o.title });
}

export interface Series {
  name: string;
  color?: string;
  points: [number, number][];
}

export function lineChart(o: {
  title: string;
  xLabel?: string;
  yLabel?: string;
  series: Series[];
  width?: number;
  height?: number;
}): string {
  const width = o.width ?? 720;
  const height = o.height ?? 400;
  const left = 80;
  const right = width - 150;
  const top = 44;
  const bottom = height - 56;
  const points = o.series.flatMap((s) => s.points);
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  const xTicks = niceTicks(Math.min(0, ...xs), Math.max(1e-9, ...xs));
  const yTicks = niceTicks(Math.min(0, ...ys), Math.max(1e-9, ...ys));
  const x = linearScale([xTicks[0], xTicks[xTicks.length - 1]], [left, right]);
  const y = linearScale([yTicks[0], yTicks[yTicks.length - 1]], [bottom, top]);
  const body = [text(12, 24, o.title, { size: 15, weight: 'bold' })];
  for (const t of yTicks) body.push(line(left, y(t), right, y(t), { stroke: '#eee' }));
  body.push(xAxis(x, xTicks, bottom, { label: o.xLabel }));
  body.push(yAxis(y, yTicks, left, { label: o.yLabel }));
  o.series.forEach((s, i) => {
    const color = s.color ?? colorFor(i);
    const d = s.points.map((p, j) => `${j ? 'L' : 'M'}${num(x(p[0]))} ${num(y(p[1]))}`).join(' ');
    if (d) body.push(`<path d="${d}" fill="none" stroke="${escapeXml(color)}" stroke-width="2"/>`);
    for (const p of s.points)
      body.push(
        `<circle cx="${num(x(p[0]))}" cy="${num(y(p[1]))}" r="3" fill="${escapeXml(color)}"><title>${escapeXml(`${s.name}: ${fmt(p[0])}, ${fmt(p[1])}`)}</title></circle>`,
      );
    body.push(rect(right + 16, top + i * 20, 12, 12, { fill: color }));
    body.push(text(right + 33, top + i * 20 + 10, s.name, { size: 11 }));
  });
  return svgDocument(width, height, body, { title: o.title });
}

export interface TableRow {
  cells: string[];
  highlight?: 'same' | 'differs';
}

const HIGHLIGHT = { same: '#fdecc8', differs: '#e3f1e0' };

/** Rows of cells, each cell's long text wrapped onto lines; a row tinted by whether its sides match. */
export function table(o: { title: string; columns: string[]; rows: TableRow[]; note?: string; widths?: number[] }): string {
  const widths = o.widths ?? o.columns.map(() => 240);
  const width = 24 + widths.reduce((a, b) => a + b, 0);
  const lineHeight = 15;
  const wrapAt = widths.map((w) => Math.max(8, Math.floor((w - 12) / (11 * 0.6))));
  const body = [text(12, 24, o.title, { size: 15, weight: 'bold' })];
  let y = 40;
  const cellsAt = (cells: string[], bold: boolean, fill?: string): void => {
    const lines = cells.map((c, i) => wrapText(c, wrapAt[i]));
    const h = Math.max(1, ...lines.map((l) => l.length)) * lineHeight + 10;
    if (fill) body.push(rect(12, y, width - 24, h, { fill }));
    let x = 12;
    lines.forEach((ls, i) => {
      ls.forEach((l, j) =>
        body.push(
          text(x + 6, y + 17 + j * lineHeight, l, {
            size: 11,
            weight: bold ? 'bold' : 'normal',
            family: i ? 'DejaVu Sans Mono, monospace' : undefined,
          }),
        ),
      );
      x += widths[i];
    });
    body.push(line(12, y + h, width - 12, y + h, { stroke: '#bbb' }));
    y += h;
  };
  cellsAt(o.columns, true, '#eef');
  for (const r of o.rows) cellsAt(r.cells, false, r.highlight ? HIGHLIGHT[r.highlight] : undefined);
  if (o.note)
    for (const l of wrapText(o.note, Math.floor((width - 24) / 6.6))) body.push(text(12, (y += 18), l, { size: 11, fill: '#444' }));
  return svgDocument(width, y + 16, body, { title: o.title });
}

/** `s` in at most `max` characters: its end replaced by '…' when longer (the whole text goes in a tooltip). */
export function shorten(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, Math.max(1, max - 1))}…`;
}

/** `s` cut into lines of at most `max` characters, at spaces where it can, keeping its own line breaks. */
export function wrapText(s: string, max: number): string[] {
  const out: string[] = [];
  for (const para of s.split('\n')) {
    let current = '';
    for (const word of para.split(' ')) {
      for (let w = word; w.length;) {
        const room = max - (current ? current.length + 1 : 0);
        if (w.length <= room) {
          current = current ? `${current} ${w}` : w;
          w = '';
        } else if (current) {
          out.push(current);
          current = '';
        } else {
          out.push(w.slice(0, max));
          w = w.slice(max);
        }
      }
    }
    out.push(current);
  }
  return out;
}
