// scripts/bundle.mjs turns some dynamic imports into a require of another
// bundle: ../image/X.js and ../run/X.js from outside those folders become
// dist/tcr-images.cjs (src/bundles/images.ts), and the pull side's modules
// become dist/tcr-pull.cjs (src/bundles/pull.ts). A name such an import takes
// must then be exported by that bundle's entry, or the command fails at run
// time with "X is not a function", which the type checker cannot see. Read
// from the sources, as the bundler's filters read them.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = path.join(import.meta.dirname, '..', '..', 'src');

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Each `const { a, b: c } = await import('SPEC')` and `(await import('SPEC')).a` of `file`, with the names it takes. */
function destructuredImports(file: string): { spec: string; names: string[] }[] {
  const text = fs.readFileSync(file, 'utf8');
  const destructured = [...text.matchAll(/const\s*\{([^}]+)\}\s*=\s*await import\('([^']+)'\)/g)].map((m) => ({
    spec: m[2],
    names: m[1]
      .split(',')
      .map((n) => n.trim().split(':')[0].trim())
      .filter(Boolean),
  }));
  const member = [...text.matchAll(/\(await import\('([^']+)'\)\)\.(\w+)/g)].map((m) => ({ spec: m[1], names: [m[2]] }));
  return [...destructured, ...member];
}

/** Which bundle (its entry in src/bundles) a dynamic import of `spec` from `file` is sent to, as bundle.mjs decides. */
function bundleOf(file: string, spec: string): string | undefined {
  const rel = path.relative(SRC, file);
  const folder = rel.split(path.sep)[0];
  if (/^(\.\/|\.\.\/image\/)(pull|archive|flatten|unpack|transfer)\.js$/.test(spec)) {
    const sibling = spec.startsWith('./');
    if (sibling ? folder === 'image' : ['run', 'bundles', 'volumes'].includes(folder)) return 'pull';
  }
  if (/^\.\.\/(image|run)\//.test(spec) && folder !== 'image' && folder !== 'run') return 'images';
  return undefined;
}

describe('what the split bundles export', () => {
  const uses = sources(SRC).flatMap((file) =>
    destructuredImports(file).flatMap(({ spec, names }) => {
      const bundle = bundleOf(file, spec);
      return bundle ? names.map((name) => ({ bundle, name, at: `${path.relative(SRC, file)}: ${spec}` })) : [];
    }),
  );

  it('finds the imports it checks (the pattern still matches the code)', () => {
    expect(uses.filter((u) => u.bundle === 'images').length).toBeGreaterThan(20);
    expect(uses.filter((u) => u.bundle === 'pull').length).toBeGreaterThan(0);
  });

  it('every name taken through a split import is exported by its bundle', async () => {
    const entries: Record<string, Record<string, unknown>> = {
      images: await import('../../src/bundles/images.js'),
      pull: await import('../../src/bundles/pull.js'),
    };
    const missing = uses.filter((u) => !(u.name in entries[u.bundle])).map((u) => `${u.name} (${u.at}) not in src/bundles/${u.bundle}.ts`);
    expect(missing).toEqual([]);
  });
});
