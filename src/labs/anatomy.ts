import type { Lab } from './lab.js';

export const anatomy: Lab = {
  name: 'anatomy',
  title: 'anatomy (being written)',
  run: () => Promise.resolve({ text: 'not written yet', figures: [], numbers: [] }),
};
