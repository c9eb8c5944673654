// docker's --format for its lists (ps, stats): "table TEMPLATE" prints a
// header row and aligns the tab-separated cells as docker's tabwriter does
// (columns of at least 10, 3 spaces apart); a bare TEMPLATE prints one line
// per item; "json" one JSON object per line. `\t` and `\n` in the template
// are a tab and a newline, as docker reads them.
import { applyTemplate } from './go-template.js';
import { table } from './table.js';

/** docker's tabwriter: minimum width 10, padding 3. */
export const DOCKER_MIN_WIDTH = 10;

export type Item = Record<string, unknown>;

function unescape(t: string): string {
  return t.replace(/\\t/g, '\t').replace(/\\n/g, '\n');
}

/** The header of a field, as docker names its columns. */
export type HeaderOf = (field: string, arg?: string) => string;

/** A value whose every field (and method) gives its header: the template run on it is the header row. */
function headerItem(sample: Item, headerOf: HeaderOf): Item {
  const h: Item = {};
  for (const [k, v] of Object.entries(sample)) h[k] = typeof v === 'function' ? (arg: string) => headerOf(k, arg) : headerOf(k);
  return h;
}

export function renderList(format: string, items: Item[], headerOf: HeaderOf, sample: Item): string {
  if (format === 'json') return items.map((i) => JSON.stringify(i) + '\n').join('');
  const isTable = format.startsWith('table');
  const template = unescape((isTable ? format.slice(5) : format).trim());
  const lines = items.map((i) => applyTemplate(template, i));
  if (!isTable) return lines.map((l) => l + '\n').join('');
  const rows = [applyTemplate(template, headerItem(sample, headerOf)), ...lines].map((l) => l.split('\t'));
  const width = Math.max(...rows.map((r) => r.length));
  return table(
    rows.map((r) => [...r, ...Array<string>(width - r.length).fill('')]),
    DOCKER_MIN_WIDTH,
  );
}
