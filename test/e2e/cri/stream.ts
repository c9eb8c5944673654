// The client side of the CRI streaming server (the URL that Exec and Attach
// return), as kubectl reaches it through the API server: a websocket with
// the `v4.channel.k8s.io` subprotocol. Every binary message starts with its
// channel: 0 stdin, 1 stdout, 2 stderr, 3 the final status (v4: a JSON
// metav1.Status, which carries the exit code), 4 terminal resize.
import WebSocket from 'ws';

export const PROTOCOL = 'v4.channel.k8s.io';

export interface StreamStatus {
  status?: string;
  reason?: string;
  message?: string;
  details?: { causes?: { reason?: string; message?: string }[] };
}

export class Stream {
  stdout = '';
  stderr = '';
  status: StreamStatus | undefined;
  protocol = '';
  /** settles when the server closes the connection (or it fails) */
  readonly closed: Promise<void>;
  private readonly ws: WebSocket;
  private readonly opened: Promise<void>;

  constructor(url: string) {
    this.ws = new WebSocket(url.replace(/^http/, 'ws'), [PROTOCOL]);
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => {
        this.protocol = this.ws.protocol;
        resolve();
      });
      this.ws.once('error', reject);
    });
    this.closed = new Promise((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.once('error', () => resolve());
    });
    this.ws.on('message', (data: Buffer, isBinary: boolean) => {
      const buf = isBinary ? data : Buffer.from(data.toString());
      // an empty message on a channel only announces it
      if (buf.length < 2) return;
      const text = buf.subarray(1).toString();
      if (buf[0] === 1) this.stdout += text;
      else if (buf[0] === 2) this.stderr += text;
      else if (buf[0] === 3) this.status = JSON.parse(text) as StreamStatus;
    });
  }

  /** Waits for the upgrade; rejects with the server's refusal. */
  open(): Promise<void> {
    return this.opened;
  }

  /** Writes to the process's stdin (channel 0). */
  async send(text: string): Promise<void> {
    await this.opened;
    await new Promise<void>((resolve, reject) =>
      this.ws.send(Buffer.concat([Buffer.from([0]), Buffer.from(text)]), (err) => (err ? reject(err) : resolve())),
    );
  }

  /** Polls until `check` holds for what arrived, or `ms` pass; returns whether it held. */
  async until(check: (s: Stream) => boolean, ms = 10_000): Promise<boolean> {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      if (check(this)) return true;
      await new Promise((r) => setTimeout(r, 25));
    }
    return check(this);
  }

  close(): void {
    this.ws.close();
  }

  /** The process's exit code as the v4 status tells it: 0 for Success, the ExitCode cause for NonZeroExitCode. */
  exitCode(): number | null {
    if (!this.status) return null;
    if (this.status.status === 'Success') return 0;
    const cause = this.status.details?.causes?.find((c) => c.reason === 'ExitCode');
    return cause?.message !== undefined ? Number(cause.message) : null;
  }
}

/** Runs a stream to its end: opens it, writes `stdin` if given, waits for the server to close it (at most `ms`). */
export async function runStream(url: string, stdin?: string, ms = 30_000): Promise<Stream> {
  const s = new Stream(url);
  await s.open();
  if (stdin !== undefined) await s.send(stdin);
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  await Promise.race([s.closed, timedOut]);
  clearTimeout(timer);
  s.close();
  return s;
}
