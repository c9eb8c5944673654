// The containers recorded under a state root: one found by id, and all of
// them listed. Every lifecycle command but create and run needs only this,
// not the launch path (src/container/runtime.ts, which delegates here), so
// the engine's bundle (src/cli/engine.ts) loads that path for those two only.
import fs from 'node:fs';
import { TcrError } from '../errors.js';
import { Container } from './container.js';
import { StateStore, validateId } from './state-store.js';
import { deriveStatus, ociState } from './status.js';

export class RecordedContainers {
  constructor(readonly store: StateStore) {}

  container(id: string): Container {
    validateId(id);
    if (!this.store.exists(id) && !fs.existsSync(this.store.dir(id))) throw new TcrError(`container ${id} does not exist`);
    return new Container(id, this.store);
  }

  list(): ReturnType<typeof ociState>[] {
    const out: ReturnType<typeof ociState>[] = [];
    for (const id of this.store.ids()) {
      try {
        const rec = this.store.summary(id);
        out.push(ociState(rec, deriveStatus(rec, this.store)));
      } catch {
        // a directory without a state file yet: a create in progress or crashed
      }
    }
    return out;
  }
}
