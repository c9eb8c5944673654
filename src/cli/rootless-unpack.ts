// The commands that write layers into an ordinary user's store: they run
// again as root of a user namespace with the user's ids (src/image/userns-exec.ts).
// (the child's mark, USERNS_ENV of userns-exec.ts, read here without loading that module on every command)
const inUserNamespaceChild = (): boolean => process.env.TCR_USERNS_UNPACK === '1';

const UNPACKING = new Set(['pull', 'load', 'import']);

/** Whether argv, run by an ordinary user, unpacks layers: pull, load, import, help aside. */
export function unpacksAsUser(argv: string[], name: string | undefined, uid = process.geteuid?.() ?? 0): boolean {
  if (uid === 0 || name === undefined || inUserNamespaceChild() || argv.includes('--help') || argv.includes('-h')) return false;
  return UNPACKING.has(name);
}
