// Foreground `run` passes the signals it receives on to the container.
// Handlers go in before the container exists, so a signal that arrives
// while it starts is held and delivered once its pid is known, instead of
// killing tcr with the default action and leaving the container behind.

const FORWARDED: NodeJS.Signals[] = [
  'SIGHUP',
  'SIGINT',
  'SIGQUIT',
  'SIGTERM',
  'SIGUSR1',
  'SIGUSR2',
  'SIGALRM',
  'SIGCONT',
  'SIGWINCH',
  'SIGTSTP',
  'SIGTTIN',
  'SIGTTOU',
];

export class SignalForwarder {
  private pid = 0;
  private pending: NodeJS.Signals[] = [];
  private readonly handler = (sig: NodeJS.Signals) => {
    if (this.pid > 0) this.send(sig);
    else this.pending.push(sig);
  };

  private forwarded = FORWARDED;

  install(): this {
    for (const s of this.forwarded) process.on(s, this.handler);
    return this;
  }

  /** Stops forwarding a signal (SIGWINCH, once a terminal proxy owns it). */
  drop(sig: NodeJS.Signals): void {
    process.off(sig, this.handler);
    this.forwarded = this.forwarded.filter((s) => s !== sig);
  }

  /** From now on signals go to pid; held ones are delivered first, in order. */
  target(pid: number): void {
    this.pid = pid;
    for (const s of this.pending.splice(0)) this.send(s);
  }

  uninstall(): void {
    for (const s of this.forwarded) process.off(s, this.handler);
  }

  private send(sig: NodeJS.Signals): void {
    try {
      process.kill(this.pid, sig);
    } catch {
      // exited meanwhile
    }
  }
}
