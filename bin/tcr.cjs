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

/** Runs one of dist/'s bundles (once) and returns its exports; `scripts` collects the vm.Scripts for the code-cache maker. */
function loadBundle(file, scripts) {
  if (loaded.has(file)) return loaded.get(file).exports;
  let cachedData;
  try {
    // only a cache made after its bundle: V8 checks the bundle's length, not its text
    if (fs.statSync(`${file}.cache`).mtimeMs >= fs.statSync(file).mtimeMs) cachedData = fs.readFileSync(`${file}.cache`);
  } catch {
    // no cache: V8 compiles the bundle itself
  }
  // latin1: the bundles are ASCII (esbuild escapes the rest), and one-byte decoding skips UTF-8 validation;
  // each is stored already inside CommonJS's function wrapper (scripts/bundle.mjs)
  const script = new vm.Script(fs.readFileSync(file, 'latin1'), { filename: file, cachedData });
  scripts?.set(file, script);
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

/** The bundle that runs this command line: the sub-command's name is its first word that is neither a global flag nor a value of one. */
function bundleFor(argv) {
  for (let i = 0; i < argv.length; i++) {
    if (GLOBAL_WITH_VALUE.has(argv[i])) i++;
    else if (!argv[i].startsWith('-')) return ENGINE_COMMANDS.has(argv[i]) ? 'tcr-engine.cjs' : 'tcr.cjs';
  }
  return 'tcr.cjs';
}

if (require.main === module) {
  const argv = process.argv.slice(2);
  loadBundle(path.join(dist, bundleFor(argv)))
    .main(argv)
    .then((code) => {
      process.exitCode = code;
    });
} else {
  module.exports = { loadBundle, dist, bundleFor, ENGINE_COMMANDS, GLOBAL_WITH_VALUE };
}
