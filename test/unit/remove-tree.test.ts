// removeTree: rm -rf of a tree with symlinks (never followed) and names that are not UTF-8.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { removeTree } from '../../src/sys/remove-tree.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcr-remove-tree-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

it('removes a whole tree, names as bytes, without following symlinks', () => {
  const outside = path.join(dir, 'outside');
  fs.mkdirSync(outside);
  fs.writeFileSync(path.join(outside, 'keep'), 'x');
  const tree = path.join(dir, 'tree');
  fs.mkdirSync(path.join(tree, 'a', 'b'), { recursive: true });
  fs.writeFileSync(path.join(tree, 'a', 'b', 'f'), 'x');
  fs.symlinkSync(outside, path.join(tree, 'link'));
  const odd = Buffer.concat([Buffer.from(tree + '/f'), Buffer.from([0xff]), Buffer.from('o')]);
  fs.mkdirSync(odd);
  fs.writeFileSync(Buffer.concat([odd, Buffer.from('/g'), Buffer.from([0xfe])]), 'x');
  removeTree(tree);
  expect(fs.existsSync(tree)).toBe(false);
  expect(fs.readFileSync(path.join(outside, 'keep'), 'utf8')).toBe('x');
  removeTree(tree); // already gone: no error
});
