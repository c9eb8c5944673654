// The attach socket's wire format (attach-socket.ts serves it, attach-client.ts
// speaks it): frames of one type byte, a 32-bit big-endian length and the
// payload. Output keeps stdout and stderr apart as docker's multiplexed
// stream does; the client sends its input, the end of it, and window sizes.
export enum Frame {
  /** client → monitor: bytes for the container's stdin (or its terminal) */
  stdin = 0,
  /** monitor → client */
  stdout = 1,
  stderr = 2,
  /** monitor → client: the container exited; payload its status, int32 */
  exit = 3,
  /** client → monitor: its stdin ended */
  stdinEnd = 4,
  /** client → monitor: its window size, rows and cols as uint16 */
  resize = 5,
  /** monitor → client: it gets no more output; payload why, UTF-8 */
  dropped = 6,
}

const HEADER = 5;

export function frame(type: Frame, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(HEADER);
  head.writeUInt8(type, 0);
  head.writeUInt32BE(payload.length, 1);
  return Buffer.concat([head, payload]);
}

export function exitFrame(status: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(status, 0);
  return frame(Frame.exit, b);
}

export function resizeFrame(rows: number, cols: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt16BE(rows, 0);
  b.writeUInt16BE(cols, 2);
  return frame(Frame.resize, b);
}

/** Cuts a byte stream into frames, whatever the chunks it arrives in. */
export class FrameReader {
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly onFrame: (type: Frame, payload: Buffer) => void) {}

  push(chunk: Buffer): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    while (this.pending.length >= HEADER) {
      const len = this.pending.readUInt32BE(1);
      if (this.pending.length < HEADER + len) return;
      const type = this.pending.readUInt8(0) as Frame;
      const payload = this.pending.subarray(HEADER, HEADER + len);
      this.pending = this.pending.subarray(HEADER + len);
      this.onFrame(type, payload);
    }
  }
}
