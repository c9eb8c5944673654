// Random hex ids (container ids, network ids), read from the kernel's pool
// rather than through node:crypto: one module fewer to load on every run.
import fs from 'node:fs';

export function randomHex(bytes: number): string {
  const fd = fs.openSync('/dev/urandom', 'r');
  try {
    const b = Buffer.alloc(bytes);
    fs.readSync(fd, b);
    return b.toString('hex');
  } finally {
    fs.closeSync(fd);
  }
}
