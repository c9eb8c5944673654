import type { Lab } from './lab.js';

export const isolation: Lab = {
  name: 'isolation',
  title: 'isolation (being written)',
  run: () => Promise.resolve({ text: 'not written yet', figures: [], numbers: [] }),
};
