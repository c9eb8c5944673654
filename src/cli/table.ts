// The one column formatter of the CLI's lists, as Go's tabwriter lays them
// out for docker and runc: every column but the last padded to its widest
// cell plus three spaces, and to at least `minWidth` (runc's list asks 12).
export function table(rows: string[][], minWidth = 0): string {
  const widths = rows[0].map((_, i) => Math.max(minWidth, ...rows.map((r) => r[i].length + 3)));
  return rows
    .map(
      (r) =>
        r
          .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i])))
          .join('')
          .trimEnd() + '\n',
    )
    .join('');
}
