// Durations and sizes the way docker's CLI words them (the go-units package):
// "About a minute", "3 hours", "1.24MB". ps, stats and prune print them, and
// scripts that read docker's output read tcr's the same.

/** units.HumanDuration: the coarse words of ps's CREATED and STATUS columns. */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.floor(ms / 60_000);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.floor(ms / 3_600_000 + 0.5);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(ms / 3_600_000 / 24 / 365)} years`;
}

/** Go's %.Ng: N significant digits, no trailing zeros. */
function significant(v: number, digits: number): string {
  return String(Number(v.toPrecision(digits)));
}

function scaled(bytes: number, base: number, units: string[], digits: number): string {
  let v = bytes;
  let i = 0;
  while (v >= base && i < units.length - 1) {
    v /= base;
    i++;
  }
  return `${significant(v, digits)}${units[i]}`;
}

/** units.HumanSizeWithPrecision: decimal units (kB, MB), as ps -s and prune's reclaimed space print. */
export function decimalSize(bytes: number, digits = 3): string {
  return scaled(bytes, 1000, ['B', 'kB', 'MB', 'GB', 'TB', 'PB'], digits);
}

/** units.BytesSize: binary units (KiB, MiB), as stats prints memory. */
export function binarySize(bytes: number): string {
  return scaled(bytes, 1024, ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'], 4);
}

/** Go's time.Time.String() of a local time: "2026-12-01 21:30:00 +0000 UTC". */
export function goTimeString(d: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const off = -d.getTimezoneOffset();
  const zone = `${off < 0 ? '-' : '+'}${p(Math.floor(Math.abs(off) / 60))}${p(Math.abs(off) % 60)}`;
  const name = off === 0 ? 'UTC' : (/\(([^)]+)\)$/.exec(d.toTimeString())?.[1] ?? zone).replace(/[^A-Z]/g, '') || zone;
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())} ${zone} ${name}`;
}

/** stringutils.Ellipsis: at most `max` characters, the last one "…" when cut. */
export function ellipsis(s: string, max: number): string {
  const chars = [...s];
  return chars.length <= max ? s : chars.slice(0, max - 1).join('') + '…';
}
