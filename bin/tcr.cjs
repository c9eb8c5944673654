#!/usr/bin/env -S node --
'use strict';
// The CLI's loader, run by bin/tcr. It runs the CommonJS bundle of the CLI (dist/tcr.cjs):
// no ES module loader (not even an import() here, which would start it), and
// each bundle compiled from V8's code cache (dist/<bundle>.cache, made by
// scripts/bundle.mjs) when it matches this node. The bundle loads its
// siblings, the image side (dist/tcr-images.cjs) and commander
// (dist/commander.cjs), on first use, through the same cached loading.
// Start-up is most of a lifecycle command's time; see bench/.
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const { createRequire } = require('node:module');

const dist = path.join(__dirname, '..', 'dist');
const loaded = new Map();

/**
 * Runs one of dist/'s bundles (once) and returns its exports. `scripts` collects, by file, the
 * vm.Script, whether V8 took its cache, and which build of the bundle it is (for the code-cache
 * maker and learnCaches).
 */
function loadBundle(file, scripts) {
  if (loaded.has(file)) return loaded.get(file).exports;
  const bundle = fs.statSync(file);
  let cachedData;
  try {
    // only a cache made after its bundle: V8 checks the bundle's length, not its text
    if (fs.statSync(`${file}.cache`).mtimeMs >= bundle.mtimeMs) cachedData = fs.readFileSync(`${file}.cache`);
  } catch {
    // no cache: V8 compiles the bundle itself
  }
  // latin1: the bundles are ASCII (esbuild escapes the rest), and one-byte decoding skips UTF-8 validation;
  // each is stored already inside CommonJS's function wrapper (scripts/bundle.mjs)
  const script = new vm.Script(fs.readFileSync(file, 'latin1'), { filename: file, cachedData });
  const cached = cachedData !== undefined && !script.cachedDataRejected;
  scripts?.set(file, { script, cached, build: `${bundle.size}:${bundle.mtimeMs}` });
  const module_ = { exports: {} };
  loaded.set(file, module_);
  const base = createRequire(file);
  // a bundle's require of a sibling bundle ('./tcr-images.cjs') comes back here
  const require_ = (id) => (id.startsWith('./') && id.endsWith('.cjs') ? loadBundle(path.join(dist, id), scripts) : base(id));
  script.runInThisContext().call(module_.exports, module_.exports, require_, module_, file, dist);
  return module_.exports;
}

// bin/tcr started node without NODE_EXTRA_CA_CERTS (see there): the processes tcr starts get it
// back, and the registry client learns that this node did not load it
const deferredCa = process.env.TCR_NODE_EXTRA_CA_CERTS;
if (deferredCa !== undefined) {
  process.env.NODE_EXTRA_CA_CERTS = deferredCa;
  delete process.env.TCR_NODE_EXTRA_CA_CERTS;
  globalThis[Symbol.for('tcr.extraCaCertsNotLoaded')] = deferredCa;
}

// runc's per-container commands, which an engine runs for every container, have a bundle of
// their own (src/cli/engine.ts); these lists are src/cli/engine.ts's and src/cli/command-line.ts's
const ENGINE_COMMANDS = new Set(['start', 'state', 'kill', 'delete', 'list']);
const GLOBAL_WITH_VALUE = new Set(['--root', '--log', '--log-format', '--store', '--rootless']);

/** The command's word: the first that is neither a global flag nor a value of one. */
function commandWord(argv) {
  for (let i = 0; i < argv.length; i++) {
    if (GLOBAL_WITH_VALUE.has(argv[i])) i++;
    else if (!argv[i].startsWith('-')) return argv[i];
  }
  return '';
}

/** The bundle that runs this command line (the engine's for its commands, else the full CLI). */
function bundleFor(argv) {
  return ENGINE_COMMANDS.has(commandWord(argv)) ? 'tcr-engine.cjs' : 'tcr.cjs';
}

/**
 * The code caches learn: scripts/bundle.mjs takes them after a warm-up that starts no container,
 * so the functions of a real create, run or exec are compiled anew by every such command. After
 * the first command of each name (and set of bundles loaded) that succeeds, each bundle it loaded
 * gets its cache taken again, now holding what that command compiled (V8 keeps a cache's functions
 * and adds the new ones), and dir/.learned.json notes it for that build of the bundle. A cache V8
 * refused (another node) is replaced the same way. Every write goes through a rename: a concurrent
 * command reads the old cache or the new one; a directory it cannot write (rootless, a read-only
 * install) is left alone.
 */
function learnCaches(dir, command, scripts) {
  const notes = path.join(dir, '.learned.json');
  let learned = {};
  try {
    learned = JSON.parse(fs.readFileSync(notes, 'utf8'));
  } catch {
    // none yet, or unreadable: every cache counts as not learned
  }
  const replace = (file, data) => {
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
  };
  // runc's `run ID` and docker's `run IMAGE` share a name, not their code: what a command line
  // compiled is told apart by the name and the bundles it loaded
  const key = [command, ...[...scripts.keys()].map((f) => path.basename(f)).sort()].join(' ');
  try {
    const due = [];
    for (const [file, { script, cached, build }] of scripts) {
      const name = path.basename(file);
      const seen = cached && learned[name]?.build === build ? learned[name].commands : [];
      if (!seen.includes(key)) due.push({ file, script, name, build, seen });
    }
    if (!due.length) return;
    // before taking any cache (milliseconds each): a directory this user cannot write is left at once
    fs.accessSync(dir, fs.constants.W_OK);
    for (const { file, script, name, build, seen } of due) {
      replace(`${file}.cache`, script.createCachedData());
      learned[name] = { build, commands: [...seen, key] };
    }
    replace(notes, JSON.stringify(learned));
  } catch {
    // not ours to write: the caches stay as they are
  }
}

if (require.main === module) {
  const argv = process.argv.slice(2);
  const scripts = new Map();
  loadBundle(path.join(dist, bundleFor(argv)), scripts)
    .main(argv)
    .then((code) => {
      process.exitCode = code;
      const command = commandWord(argv);
      if (code === 0 && command) process.once('exit', () => learnCaches(dist, command, scripts));
    });
} else {
  module.exports = { loadBundle, learnCaches, dist, bundleFor, ENGINE_COMMANDS, GLOBAL_WITH_VALUE };
}
