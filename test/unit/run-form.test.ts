// Which form a `tcr run` is (src/cli/run-form.ts): docker's `run IMAGE` must
// never be taken for runc's `run ID` of the bundle in the working directory.
import { describe, expect, it } from 'vitest';
import { runForm, type RunFormProbe } from '../../src/cli/run-form.js';

/** A working directory with or without config.json, and a store holding `images`. */
function probe(hasConfig: boolean, images: string[] = []): RunFormProbe & { asked: string[] } {
  const asked: string[] = [];
  return { asked, hasConfig: () => hasConfig, isImage: async (n) => (asked.push(n), images.includes(n)) };
}

describe('run form', () => {
  it('--bundle, or any runc-only flag, is a bundle run', async () => {
    expect(await runForm(['bundle'], ['c1'], probe(false))).toBe('bundle');
    expect(await runForm(['keep', 'detach'], ['c1'], probe(true, ['c1']))).toBe('bundle');
    expect(await runForm(['pivot'], ['c1'], probe(false))).toBe('bundle');
  });

  it('a docker-only flag, a command or no config.json here is an image run', async () => {
    expect(await runForm(['rm'], ['c1'], probe(true))).toBe('image');
    expect(await runForm(['detach'], ['busybox', 'true'], probe(true))).toBe('image');
    expect(await runForm([], ['c1'], probe(false))).toBe('image');
  });

  it('in a bundle directory, an image reference or an image of the store is still an image', async () => {
    for (const ref of ['busybox:latest', 'docker.io/library/busybox', 'team/app', 'busybox@sha256:' + 'a'.repeat(64)])
      expect(await runForm([], [ref], probe(true))).toBe('image');
    const p = probe(true, ['busybox']);
    expect(await runForm(['detach'], ['busybox'], p)).toBe('image');
    expect(p.asked).toEqual(['busybox']);
  });

  it("in a bundle directory, a plain id that names no image is runc's run of that bundle", async () => {
    expect(await runForm([], ['c1'], probe(true, ['busybox']))).toBe('bundle');
    expect(await runForm(['detach'], ['my-ctr.1'], probe(true))).toBe('bundle');
  });

  it('refuses flags of both forms, naming them', async () => {
    await expect(runForm(['bundle', 'rm', 'env'], ['c1'], probe(true))).rejects.toThrow(
      'run: --rm, --env are for an image (run [flags] IMAGE), --bundle for a bundle (run --bundle DIR ID): use one form',
    );
  });
});
