// Sizes as docker's flags write them, shared by `update` and the docker-style commands.
import { TcrError } from '../errors.js';

/** "512m", "1g", "1024", "-1" → bytes, as docker's units.RAMInBytes reads them. */
export function parseBytes(v: string, flag: string): number {
  const m = /^(-1|\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b)?$/i.exec(v.trim());
  if (!m) throw new TcrError(`${flag}: ${JSON.stringify(v)} is not a size (e.g. 512m, 1g, -1)`);
  if (m[1] === '-1') return -1;
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 }[m[2].toLowerCase()]!;
  return Math.floor(Number(m[1]) * mult);
}
