// What a lab is: a measurement on this machine that explains itself. The
// framework (src/labs/runner.ts) runs it, prints its text, writes its
// figures, and gathers every lab into one offline HTML report. A lab takes
// its numbers only from its own run: nothing here is a constant of a slide.

/** One picture of a lab: `name` is its file name without the extension (letters, digits, '-'). */
export interface Figure {
  name: string;
  title: string;
  svg: string;
}

/** A measured value, for the report's table of numbers and for tests. */
export interface LabNumber {
  name: string;
  value: number | string;
  unit?: string;
}

export interface LabResult {
  /** a short explanation with the run's numbers in it, plain text, printed as is */
  text: string;
  figures: Figure[];
  numbers: LabNumber[];
}

export interface TcrOutput {
  stdout: string;
  stderr: string;
  status: number;
}

export interface LabContext {
  /** a directory of the lab's own, removed after the lab (bundles, scratch files) */
  scratch: string;
  /** runs bin/tcr (the same build as the running lab) with `args`, as a child process; never throws for an exit status */
  tcr(args: string[], options?: { input?: string; timeoutMs?: number }): Promise<TcrOutput>;
  /** a progress line on stderr ("starting 5 containers..."): the result's text is what stays */
  progress(line: string): void;
  /** the demo busybox bundle's rootfs (demo/busybox/rootfs), for labs that build bundles of their own */
  busyboxRootfs: string;
}

export interface Lab {
  /** what `tcr lab NAME` takes: lowercase letters, digits and '-' */
  name: string;
  /** one line, for `tcr lab list` and the report's headings */
  title: string;
  run(ctx: LabContext): Promise<LabResult>;
}

/** The value of number `name` in a result (for labs and tests that read another's numbers). */
export function numberOf(result: LabResult, name: string): number | string | undefined {
  return result.numbers.find((n) => n.name === name)?.value;
}
