import { OCI_VERSION } from '../spec/defaults.js';

export const VERSION = '0.1.0';

/** In runc's shape: "NAME version X" then key: value lines. */
export function versionText(): string {
  return `tcr version ${VERSION}\nspec: ${OCI_VERSION}\nnode: ${process.version}\n`;
}
