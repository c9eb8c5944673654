import { afterAll, describe, expect, it } from 'vitest';
import { Sandbox, isRoot } from '../helpers.js';

describe.skipIf(!isRoot)('tcr run (root, real kernel)', () => {
  const sb = new Sandbox('tcr-run');
  afterAll(() => sb.cleanup());

  it('runs the process as pid 1 of its own pid namespace with the configured hostname', () => {
    const r = sb.run('echo pid=$$ host=$(hostname)');
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('pid=1 host=tcr-demo');
    expect(r.status).toBe(0);
  });

  it('exits with the container process exit code', () => {
    expect(sb.run('exit 7').status).toBe(7);
  });
});
