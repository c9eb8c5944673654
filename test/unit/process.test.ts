import { describe, expect, it } from 'vitest';
import { execCandidates, hookStep } from '../../src/linux/process.js';
import { PlanOp } from '../../src/linux/plan-steps.js';

const DEFAULT = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

describe('execCandidates', () => {
  it('takes a name with a slash as it is', () => {
    expect(execCandidates('/bin/sh', ['PATH=/x'])).toEqual(['/bin/sh']);
    expect(execCandidates('./run.sh')).toEqual(['./run.sh']);
    expect(execCandidates('bin/app', ['PATH=/x'])).toEqual(['bin/app']);
  });

  it('searches PATH from the environment', () => {
    expect(execCandidates('sh', ['HOME=/root', 'PATH=/opt/bin:/bin'])).toEqual(['/opt/bin/sh', '/bin/sh']);
  });

  it('uses the last PATH= when there are several', () => {
    expect(execCandidates('sh', ['PATH=/first', 'A=1', 'PATH=/second:/third'])).toEqual(['/second/sh', '/third/sh']);
  });

  it('does not mistake a variable that ends in PATH for PATH', () => {
    expect(execCandidates('sh', ['LD_LIBRARY_PATH=/lib', 'MANPATH=/man'])).toEqual(DEFAULT.map((d) => `${d}/sh`));
  });

  it('falls back to the default PATH', () => {
    expect(execCandidates('true')).toEqual(DEFAULT.map((d) => `${d}/true`));
    expect(execCandidates('true', [])).toEqual(DEFAULT.map((d) => `${d}/true`));
  });

  it('reads an empty PATH entry as the current directory', () => {
    expect(execCandidates('x', ['PATH=/bin::/usr/bin'])).toEqual(['/bin/x', 'x', '/usr/bin/x']);
  });
});

describe('hookStep', () => {
  it('passes path, argv (or the path alone), env and the timeout in ms', () => {
    expect(hookStep({ path: '/h', args: ['h', '-v'], env: ['A=1'], timeout: 2 }, 'createContainer', 0)).toMatchObject({
      op: PlanOp.hook,
      path: '/h',
      argv: ['h', '-v'],
      env: ['A=1'],
      timeoutMs: 2000,
    });
    expect(hookStep({ path: '/h' }, 'startContainer', 1)).toMatchObject({ path: '/h', argv: ['/h'], env: [], timeoutMs: 0 });
  });
});
