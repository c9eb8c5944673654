// Everything `tcr lab` runs, and the trace picture of `--trace=FILE.svg`, as
// one module: bundled apart (dist/tcr-labs.cjs) so that no other command loads it.
import fs from 'node:fs';
import type { TraceData } from '../container/trace-record.js';
import { traceFigure } from '../labs/anatomy-figure.js';
export { labAll, labList, labOne } from '../labs/runner.js';

/** --trace=FILE: the picture for .svg, the spans as JSON otherwise. */
export function writeTraceFile(file: string, data: TraceData): void {
  fs.writeFileSync(file, file.endsWith('.svg') ? traceFigure(data) : `${JSON.stringify(data, null, 2)}\n`);
}
