// Staying attached to a process tcr started (foreground run and exec): its
// terminal proxied, the runtime's signals passed on, its exit status returned.
import { native, shellStatus } from '../sys/native.js';
import { SignalForwarder } from './signal-forwarder.js';
import { TerminalProxy } from './terminal.js';

export class Attachment {
  private readonly signals = new SignalForwarder().install();
  private terminal?: TerminalProxy;

  /**
   * `serveConsole`: someone else proxies the terminal (a monitor, for its attach clients);
   * `tee`: gets our own terminal's output too, as it is shown
   */
  constructor(private readonly o: { serveConsole?: (master: number) => void; tee?: (chunk: Buffer) => void } = {}) {
    if (o.serveConsole) this.signals.drop('SIGWINCH');
  }

  /** Receives the pty master of a terminal process (the launcher's onConsole). */
  readonly onConsole = (master: number): void => {
    if (this.o.serveConsole) this.o.serveConsole(master);
    else this.terminal = new TerminalProxy(master, this.o.tee);
  };

  /** Once the process runs: proxy, forward, wait; resolves with its shell-style status. */
  async wait(pid: number): Promise<number> {
    try {
      if (this.terminal) {
        this.signals.drop('SIGWINCH'); // the pty signals its foreground group itself
        this.terminal.start();
      }
      this.signals.target(pid);
      const status = await native().waitAsync(pid);
      await this.terminal?.stop();
      return shellStatus(status);
    } finally {
      this.signals.uninstall();
    }
  }

  /** When the process never ran (the launch failed). */
  abandon(): void {
    this.signals.uninstall();
  }
}
