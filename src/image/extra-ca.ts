// NODE_EXTRA_CA_CERTS, which Node reads only as it starts. bin/tcr starts
// node without it for commands that seldom reach a registry (it costs every
// start a parse of the CA file), `run` among them; bin/tcr.cjs puts the
// variable back into the environment and leaves the file's name here. Such a
// command pulls through a child `tcr pull`, whose node loads the file.
import { TcrError } from '../errors.js';

/** The CA file this node was started without, if bin/tcr dropped it. */
export function extraCaCertsNotLoaded(): string | undefined {
  const file = (globalThis as Record<symbol, unknown>)[Symbol.for('tcr.extraCaCertsNotLoaded')];
  return typeof file === 'string' ? file : undefined;
}

/** Refuses a TLS connection that would be checked without the CA file: a certificate error would hide why. */
export function requireExtraCaCerts(url: string): void {
  const file = extraCaCertsNotLoaded();
  if (file !== undefined && url.startsWith('https:'))
    throw new TcrError(
      `${url}: this tcr command started without NODE_EXTRA_CA_CERTS=${file} (bin/tcr keeps it only for pull, push, login and compose; pull in a child \`tcr pull\`, as src/image/get-image.ts does)`,
    );
}
