// The flags that change no kernel setting but what tcr records and later
// acts on (the spec's dev.tcr.run note): --label/--label-file over the
// image's labels, --stop-signal and --stop-timeout for `tcr stop`.
import fs from 'node:fs';
import { TcrError, errnoCode, errorMessage } from '../errors.js';
import { parseSignal } from '../container/signals.js';

/** The image's labels, then --label-file lines, then --label (a bare KEY: an empty value, as docker gives it). */
export function mergeLabels(image: Record<string, string> | undefined, labels: string[], files: string[]): Record<string, string> {
  const out: Record<string, string> = { ...(image ?? {}) };
  const put = (l: string, where: string) => {
    const i = l.indexOf('=');
    const key = i < 0 ? l : l.slice(0, i);
    if (!key.trim()) throw new TcrError(`${where}: ${JSON.stringify(l)} has no label name (give KEY=VALUE)`);
    out[key] = i < 0 ? '' : l.slice(i + 1);
  };
  for (const file of files) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      throw new TcrError(`--label-file ${file}: ${errnoCode(e) ?? errorMessage(e)}`);
    }
    for (const line of text.split('\n').map((l) => l.trim())) if (line && !line.startsWith('#')) put(line, `--label-file ${file}`);
  }
  for (const l of labels) put(l, '--label');
  return out;
}

/** --stop-signal, else the image's StopSignal: kept as given (docker's inspect shows it so), checked to be a signal. */
export function stopSignal(flag: string | undefined, image: string | undefined): string | undefined {
  const v = flag ?? image;
  if (v === undefined || v === '') return undefined;
  try {
    parseSignal(v);
  } catch {
    throw new TcrError(
      `${flag !== undefined ? '--stop-signal' : "the image's StopSignal"}: ${JSON.stringify(v)} is not a signal (e.g. SIGINT, 2)`,
    );
  }
  return v;
}

/** --stop-timeout: seconds `tcr stop` waits before SIGKILL (docker's -1: wait for ever). */
export function stopTimeout(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^(-1|\d+)$/.test(v.trim()))
    throw new TcrError(`--stop-timeout: ${JSON.stringify(v)} is not a whole number of seconds (-1: no timeout)`);
  return Number(v);
}
