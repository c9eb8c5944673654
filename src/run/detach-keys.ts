// docker's --detach-keys: a comma-separated sequence, each a single
// character or ctrl-X (X one of a-z @ [ \ ] ^ _), "ctrl-p,ctrl-q" unless
// given; the empty string turns detaching off. The attach client watches
// what it forwards for the sequence, holding back a prefix until it knows.
import { TcrError } from '../errors.js';

export const DEFAULT_DETACH_KEYS = 'ctrl-p,ctrl-q';

/** The bytes of a --detach-keys value; empty when detaching is off. */
export function parseDetachKeys(value: string, flag = '--detach-keys'): Buffer {
  if (value === '') return Buffer.alloc(0);
  const bytes = value.split(',').map((key) => {
    const ctrl = /^ctrl-(.)$/i.exec(key);
    if (ctrl) {
      const c = ctrl[1].toLowerCase();
      if (c >= 'a' && c <= 'z') return c.charCodeAt(0) - 0x60;
      const i = '@[\\]^_'.indexOf(c);
      if (i >= 0) return i === 0 ? 0 : 0x1b + i - 1;
    } else if (key.length === 1 && key.charCodeAt(0) < 0x80) return key.charCodeAt(0);
    throw new TcrError(
      `${flag} ${JSON.stringify(value)}: ${JSON.stringify(key)} is neither one character nor ctrl-X (X: a-z, @, [, \\, ], ^ or _)`,
      125,
    );
  });
  return Buffer.from(bytes);
}

/** Splits typed input into what goes on to the container and whether the detach sequence was typed. */
export class DetachWatcher {
  private held = 0;

  constructor(private readonly keys: Buffer) {}

  /** The bytes to forward now; `detach` once the whole sequence came (what followed it is dropped, as docker does). */
  feed(chunk: Buffer): { forward: Buffer; detach: boolean } {
    if (this.keys.length === 0) return { forward: chunk, detach: false };
    const out: number[] = [];
    for (const b of chunk) {
      if (b === this.keys[this.held]) {
        if (++this.held === this.keys.length) return { forward: Buffer.from(out), detach: true };
        continue;
      }
      // a prefix that went astray is the user's input after all
      for (let i = 0; i < this.held; i++) out.push(this.keys[i]);
      this.held = 0;
      if (b === this.keys[0]) this.held = 1;
      else out.push(b);
    }
    return { forward: Buffer.from(out), detach: false };
  }
}
