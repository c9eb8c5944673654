// docker's --detach-keys format and the watcher that finds the sequence in
// typed input (src/run/detach-keys.ts), and the attach socket's frames
// arriving in any chunks (src/run/attach-frames.ts).
import { describe, expect, it } from 'vitest';
import { DEFAULT_DETACH_KEYS, DetachWatcher, parseDetachKeys } from '../../src/run/detach-keys.js';
import { Frame, FrameReader, exitFrame, frame, resizeFrame } from '../../src/run/attach-frames.js';

describe('detach keys', () => {
  it("parses docker's format: ctrl-X and single characters, empty for none", () => {
    expect([...parseDetachKeys(DEFAULT_DETACH_KEYS)]).toEqual([0x10, 0x11]);
    expect([...parseDetachKeys('ctrl-a,x,ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_')]).toEqual([1, 0x78, 0, 27, 28, 29, 30, 31]);
    expect([...parseDetachKeys('CTRL-Z')]).toEqual([26]);
    expect(parseDetachKeys('').length).toBe(0);
  });

  it('refuses what is neither a character nor ctrl-X, naming the flag', () => {
    for (const bad of ['ctrl-1', 'ab', 'ctrl-', 'ctrl-p,,ctrl-q', 'é'])
      expect(() => parseDetachKeys(bad)).toThrow(/--detach-keys .*neither one character nor ctrl-X/);
  });

  it('holds back a prefix, gives it back when the sequence goes astray, and detaches on the whole of it', () => {
    const w = new DetachWatcher(parseDetachKeys('ctrl-p,ctrl-q'));
    expect(w.feed(Buffer.from('ab\x10'))).toEqual({ forward: Buffer.from('ab'), detach: false });
    expect(w.feed(Buffer.from('c'))).toEqual({ forward: Buffer.from('\x10c'), detach: false });
    expect(w.feed(Buffer.from('\x10\x10'))).toEqual({ forward: Buffer.from('\x10'), detach: false });
    expect(w.feed(Buffer.from('\x11rest'))).toEqual({ forward: Buffer.from(''), detach: true });
    const off = new DetachWatcher(parseDetachKeys(''));
    expect(off.feed(Buffer.from('\x10\x11'))).toEqual({ forward: Buffer.from('\x10\x11'), detach: false });
  });
});

describe('attach frames', () => {
  it('come out whole and in order, whatever the chunks they arrive in', () => {
    const got: [Frame, string][] = [];
    const r = new FrameReader((t, p) => got.push([t, t === Frame.exit ? String(p.readInt32BE(0)) : p.toString('hex')]));
    const wire = Buffer.concat([frame(Frame.stdout, Buffer.from('hi')), frame(Frame.stdinEnd), resizeFrame(30, 100), exitFrame(-1)]);
    for (let i = 0; i < wire.length; i += 3) r.push(wire.subarray(i, i + 3));
    expect(got).toEqual([
      [Frame.stdout, '6869'],
      [Frame.stdinEnd, ''],
      [Frame.resize, '001e0064'],
      [Frame.exit, '-1'],
    ]);
  });
});
