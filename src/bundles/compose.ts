// Everything `tcr compose` runs, as one module: bundled apart
// (dist/tcr-compose.cjs, with the YAML parser) so that no other command loads it.
export { loadProject } from '../compose/project.js';
export { up } from '../compose/up.js';
export { down } from '../compose/down.js';
export { attached } from '../compose/attached.js';
export { config, exec, lifecycle, logs, ps, run } from '../compose/commands.js';
