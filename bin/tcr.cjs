#!/usr/bin/env node
'use strict';
// The tcr command. It runs the CommonJS bundle of the CLI (dist/tcr.cjs):
// one file and no ES module loader (not even an import() here, which would
// start it), compiled from V8's code cache (dist/tcr.cjs.cache, made by
// scripts/bundle.mjs) when it matches this node. Start-up is most of a
// lifecycle command's time; see bench/.
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const { wrap, createRequire } = require('node:module');

// built by `npm run bundle` (scripts/setup.sh does it when src/ changed)
const bundle = path.join(__dirname, '..', 'dist', 'tcr.cjs');
let cachedData;
try {
  cachedData = fs.readFileSync(`${bundle}.cache`);
} catch {
  // no cache: V8 compiles the bundle itself
}
const script = new vm.Script(wrap(fs.readFileSync(bundle, 'utf8')), { filename: bundle, cachedData });
const module_ = { exports: {} };
// the bundle's own require: its relative requires (dist/tcr-images.cjs) resolve next to it
script.runInThisContext().call(module_.exports, module_.exports, createRequire(bundle), module_, bundle, path.dirname(bundle));
module_.exports.main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
