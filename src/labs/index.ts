// Every lab, in the order `tcr lab list` and the report show them. A lab is
// one file in src/labs/ exporting a Lab; add it here with one import line and
// one entry line (keep both lists plain, one lab a line, so merges stay trivial).
import type { Lab } from './lab.js';
import { anatomy } from './anatomy.js';
import { isolation } from './isolation.js';
import { fractionalCpu } from './fractional-cpu.js';
import { memoryLimit } from './memory-limit.js';
import { vmVsContainer } from './vm-vs-container.js';
import { soa } from './soa.js';

export const LABS: Lab[] = [
  anatomy,
  isolation,
  // more labs: one line each, below
  fractionalCpu,
  memoryLimit,
  vmVsContainer,
  soa,
];

export function findLab(name: string): Lab | undefined {
  return LABS.find((l) => l.name === name);
}
