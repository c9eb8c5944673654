// The engine's warm-up (src/cli/engine-warm-up.ts) with the real engine
// commands, as scripts/bundle.mjs runs it before taking the engine bundle's
// code cache: each command takes the path it is meant to warm (state and
// list succeed on the running record, start and kill refuse the stopped one,
// delete removes it), in a child whose output goes nowhere.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO, isRoot, lacks } from '../helpers.js';

describe.skipIf(lacks(isRoot))('the engine warm-up on the real commands', () => {
  it('state and list succeed, start and kill of the stopped container fail, delete succeeds', () => {
    const engine = path.join(REPO, 'dist', 'cli', 'engine.js');
    const script = `import fs from 'node:fs'; import { warmUp } from ${JSON.stringify(engine)};
      fs.writeSync(2, 'statuses ' + JSON.stringify(await warmUp()) + '\\n');`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain('cannot start a container that has stopped');
    expect(r.stderr).toContain('container not running');
    expect(r.stderr).toMatch(/^statuses \[0,0,0,0,1,1,0\]$/m);
  });
});
