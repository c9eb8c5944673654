// Bundles the CLI into one CommonJS file, dist/tcr.cjs: a tcr command then
// loads a single script and never starts Node's ES module loader.
//
// One rewrite after esbuild: for every default import of a Node built-in
// (`import fs from 'node:fs'`) esbuild emits __toESM(require('node:fs')),
// which copies every property of the module into a fresh object, once per
// importing file, most of the start-up of a command. A wrapper whose
// prototype is the module gives the same `.default` and namespace reads for
// nothing.
import { build } from 'esbuild';
import fs from 'node:fs';
import Module from 'node:module';

const { wrap } = Module;

// The image side (store, registry, unpacker, `run IMAGE`) is a second bundle,
// dist/tcr-images.cjs, reached only through the dynamic imports of the image
// commands: the lifecycle commands then load half as much code.
const imagesApart = {
  name: 'images-apart',
  setup(b) {
    b.onResolve({ filter: /^\.\.\/(image|run)\// }, (args) => {
      if (/\/src\/(image|run)\//.test(args.importer) || args.kind !== 'dynamic-import') return undefined;
      return { path: './tcr-images.cjs', external: true };
    });
  },
};

// The fetching and unpacking half of the image side (registry, archives,
// tar-stream, the unpacker: most of its code) is a third bundle,
// dist/tcr-pull.cjs, reached through the image bundle's dynamic imports of
// those modules: `tcr run` of an image already in the store does not load it.
const pullApart = {
  name: 'pull-apart',
  setup(b) {
    // ./X.js from src/image, ../image/X.js from src/run (tcr unpack, the copy fallback) and src/bundles
    b.onResolve({ filter: /^(\.\/|\.\.\/image\/)(pull|archive|flatten|unpack|transfer)\.js$/ }, (args) => {
      const sibling = args.path.startsWith('./');
      if (!(sibling ? /\/src\/image\// : /\/src\/(run|bundles|volumes)\//).test(args.importer) || args.kind !== 'dynamic-import')
        return undefined;
      return { path: './tcr-pull.cjs', external: true };
    });
  },
};

// The systemd cgroup driver's D-Bus side (src/cgroups/systemd-bus.ts and the
// D-Bus library and its XML parser, ~290 KB) is a bundle of its own, dist/tcr-systemd.cjs,
// reached through the systemd manager's dynamic imports: only
// --systemd-cgroup containers load it. Every bundle that holds src/cgroups/
// (the CLI, the image side, pulling, compose) takes it from there.
const systemdApart = {
  name: 'systemd-apart',
  setup(b) {
    b.onResolve({ filter: /^\.\/systemd-bus\.js$/ }, (args) => {
      if (!/\/src\/cgroups\//.test(args.importer) || args.kind !== 'dynamic-import') return undefined;
      return { path: './tcr-systemd.cjs', external: true };
    });
  },
};

// commander is a fourth bundle, dist/commander.cjs, required on first use:
// the per-container commands an engine runs are parsed without it
// (src/cli/fast-path.ts), and it is 120 KB of the CLI's code.
const commanderApart = {
  name: 'commander-apart',
  setup(b) {
    b.onResolve({ filter: /^commander$/ }, () => ({ path: './commander.cjs', external: true }));
  },
};

// A command's code loaded only by that command: the CLI's dynamic import of
// ../bundles/NAME.js becomes a require of ./tcr-NAME.cjs, bundled on its own.
const commandApart = (name) => ({
  name: `${name}-apart`,
  setup(b) {
    b.onResolve({ filter: new RegExp(`^\\.\\./bundles/${name}\\.js$`) }, (args) => {
      if (!/\/src\/cli\//.test(args.importer) || args.kind !== 'dynamic-import') return undefined;
      return { path: `./tcr-${name}.cjs`, external: true };
    });
  },
});
// `tcr compose` (src/compose/ and the YAML parser): dist/tcr-compose.cjs
const composeApart = commandApart('compose');
// `tcr lab` (src/labs/) and the picture of --trace=FILE.svg: dist/tcr-labs.cjs,
// reached through the lab command's and the lifecycle's dynamic imports
const labsApart = commandApart('labs');

// runc's commands on a created container (src/cli/engine.ts) are a bundle of
// their own, dist/tcr-engine.cjs, which bin/tcr.cjs runs for their names; what
// it hands on (help, docker's start of an image container) reaches the full
// CLI through its dynamic import of ./main.js, here a require of ./tcr.cjs.
const fullCliApart = {
  name: 'full-cli-apart',
  setup(b) {
    b.onResolve({ filter: /^\.\/main\.js$/ }, (args) => {
      if (!/\/src\/cli\/engine\.ts$/.test(args.importer) || args.kind !== 'dynamic-import') return undefined;
      return { path: './tcr.cjs', external: true };
    });
  },
};

const common = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external: ['koffi'],
  // import() of the image bundle becomes require(): the CLI runs as a vm.Script, where import() has no loader
  supported: { 'dynamic-import': false },
  logLevel: 'warning',
  define: { 'import.meta.url': '__tcr_url' },
  banner: {
    js: [
      // import.meta.url without node:url's pathToFileURL (one more module to load): a file URL of the bundle's absolute path
      "var __tcr_url = 'file://' + encodeURI(__filename).replace(/[?#]/g, encodeURIComponent);",
      'var __tcrBuiltin = (m) => Object.create(m, { default: { value: m }, __esModule: { value: true } });',
      // a built-in that most commands never use is required on first use: see LAZY_BUILTINS
      'var __tcrLazy = (id) => { let m; const get = () => (m ??= require(id)); return new Proxy({}, { get: (_, k) => (k === "default" ? get() : get()[k]) }); };',
    ].join('\n'),
  },
};
const out = 'dist/tcr.cjs';
await build({
  ...common,
  entryPoints: ['src/cli/main.ts'],
  outfile: out,
  plugins: [imagesApart, commanderApart, systemdApart, composeApart, labsApart],
});
await build({
  ...common,
  entryPoints: ['src/cli/engine.ts'],
  outfile: 'dist/tcr-engine.cjs',
  plugins: [fullCliApart, imagesApart, commanderApart, systemdApart, labsApart],
});
await build({
  ...common,
  entryPoints: ['src/bundles/compose.ts'],
  outfile: 'dist/tcr-compose.cjs',
  plugins: [commanderApart, systemdApart],
});
await build({ ...common, entryPoints: ['src/bundles/labs.ts'], outfile: 'dist/tcr-labs.cjs', plugins: [commanderApart] });
await build({ ...common, entryPoints: ['src/cgroups/systemd-bus.ts'], outfile: 'dist/tcr-systemd.cjs' });
await build({
  ...common,
  entryPoints: ['src/bundles/images.ts'],
  outfile: 'dist/tcr-images.cjs',
  plugins: [pullApart, commanderApart, systemdApart],
});
await build({ ...common, entryPoints: ['src/bundles/pull.ts'], outfile: 'dist/tcr-pull.cjs', plugins: [commanderApart, systemdApart] });
await build({ ...common, entryPoints: ['node_modules/commander/index.js'], outfile: 'dist/commander.cjs' });
// Built-ins that cost a lifecycle command time to load and that most
// commands never touch: child_process alone (pulled in by commander, which
// needs it only for executable sub-commands) brings net and stream;
// crypto (only the seccomp cache key hashes). Their requires become a
// proxy that loads the module on first property read. fs, path, events and
// process stay eager: Node has loaded them before any user code runs.
// koffi is treated the same: modules that bind C functions do so on first call.
const LAZY_BUILTINS =
  /^(node:(child_process|crypto|os|tty|net|stream|stream\/promises|zlib|http|https|readline|dns|worker_threads|url|util)|koffi)$/;
for (const file of [
  out,
  'dist/tcr-engine.cjs',
  'dist/tcr-images.cjs',
  'dist/tcr-pull.cjs',
  'dist/commander.cjs',
  'dist/tcr-systemd.cjs',
  'dist/tcr-compose.cjs',
  'dist/tcr-labs.cjs',
]) {
  let text = fs.readFileSync(file, 'utf8');
  text = text.replace(/__toESM\(require\("(node:[a-z_/]+|koffi)"\)(, 1)?\)/g, '__tcrBuiltin(require("$1"))');
  text = text.replace(/(?<![\w.])require\("(node:[a-z_/]+|koffi)"\)/g, (whole, id) =>
    LAZY_BUILTINS.test(id) ? `__tcrLazy("${id}")` : whole,
  );
  text = text.replace(/(?<![\w.])require\("\.\/commander\.cjs"\)/g, '__tcrLazy("./commander.cjs")');
  // stored inside CommonJS's function wrapper, so bin/tcr.cjs compiles the file's text as read: wrapping it
  // there would make V8 flatten a second copy of every bundle (~400 KB) on each start
  fs.writeFileSync(file, wrap(text));
}

// V8's code cache for each bundle, taken after a run of the CLI's set-up and
// of src/cli/warm-up.ts so the functions every command calls are in it.
// bin/tcr.cjs uses them when they match the node that runs it (V8 checks,
// and compiles afresh otherwise).
// The caches of the last build go first: V8 takes a cache whose bundle has the
// same length as the one it was made from, so the warm-up would load (and
// write back) the old build's code after an edit that keeps the length.
for (const file of [
  out,
  'dist/tcr-engine.cjs',
  'dist/tcr-images.cjs',
  'dist/tcr-pull.cjs',
  'dist/commander.cjs',
  'dist/tcr-systemd.cjs',
  'dist/tcr-compose.cjs',
  'dist/tcr-labs.cjs',
])
  fs.rmSync(`${file}.cache`, { force: true });
// what bin/tcr.cjs's learnCaches noted of the last build's caches, and any write of its that a kill cut short
fs.rmSync('dist/.learned.json', { force: true });
for (const f of fs.readdirSync('dist')) if (f.endsWith('.tmp')) fs.rmSync(`dist/${f}`, { force: true });
const { execFileSync } = await import('node:child_process');
// The engine's warm-up runs its commands on a scratch root: what they print
// (a state, a list, the refusals of the stopped container) is not shown;
// a failure of the maker itself still is, in execFileSync's error.
execFileSync(
  process.execPath,
  [
    '-e',
    `
  const fs = require('fs'), path = require('path');
  const { loadBundle, dist } = require(path.resolve('bin/tcr.cjs'));
  const scripts = new Map();
  const cli = loadBundle(path.join(dist, 'tcr.cjs'), scripts);
  cli.buildProgram().helpInformation();
  cli.buildProgram('run').helpInformation();
  cli.warmUp();
  loadBundle(path.join(dist, 'tcr-images.cjs'), scripts).normalizeName('busybox');
  loadBundle(path.join(dist, 'tcr-pull.cjs'), scripts);
  loadBundle(path.join(dist, 'tcr-systemd.cjs'), scripts);
  loadBundle(path.join(dist, 'tcr-compose.cjs'), scripts);
  loadBundle(path.join(dist, 'tcr-labs.cjs'), scripts);
  // a warm-up that cannot run (no writable temp dir) costs speed, not the build
  loadBundle(path.join(dist, 'tcr-engine.cjs'), scripts).warmUp().catch(() => []).then(() => {
    for (const [file, { script }] of scripts) fs.writeFileSync(file + '.cache', script.createCachedData());
  });
`,
  ],
  { stdio: ['ignore', 'ignore', 'pipe'] },
);
