/**
 * Batches this worker process staged, kept in memory until read once: when the next activity of
 * a batch runs in the same process (the usual case in one datacenter), it skips reading,
 * decompressing and parsing what was just written. The stage stays the durable copy: an activity
 * that is retried, or runs on another worker, misses here and reads the stage.
 *
 * A hit is equal to what the stage would return: `putChanges` only keeps batches it staged
 * successfully, and staged values round-trip exactly (lib/values.ts). A hit is removed, so no
 * two readers share (and could change) one array.
 */
import type { RowChange } from '../../lib/model.js';
import type { Stage } from './stage.js';

/** Changes held at most, over all stages of the process (about 100–500 MB of rows). */
const MAX_ROWS = 400_000;

const held = new Map<string, RowChange[]>();
let heldRows = 0;

function drop(key: string): void {
  const changes = held.get(key);
  if (!changes) return;
  held.delete(key);
  heldRows -= changes.length;
}

function keep(key: string, changes: RowChange[]): void {
  drop(key);
  if (changes.length > MAX_ROWS) return;
  // Oldest first out (a Map iterates in insertion order).
  for (const oldest of held.keys()) {
    if (heldRows + changes.length <= MAX_ROWS) break;
    drop(oldest);
  }
  held.set(key, changes);
  heldRows += changes.length;
}

/** Wraps a stage; `id` names its location (directory, bucket and prefix) so refs of two stages never mix. */
export class MemoStage implements Stage {
  constructor(
    private readonly inner: Stage,
    private readonly id: string,
  ) {}

  async putChanges(ref: string, changes: RowChange[]): Promise<number> {
    const bytes = await this.inner.putChanges(ref, changes);
    keep(`${this.id}\n${ref}`, changes);
    return bytes;
  }

  async getChanges(ref: string): Promise<RowChange[]> {
    const key = `${this.id}\n${ref}`;
    const hit = held.get(key);
    if (hit) {
      drop(key);
      return hit;
    }
    return this.inner.getChanges(ref);
  }

  putJson(ref: string, value: unknown): Promise<void> {
    return this.inner.putJson(ref, value);
  }

  getJson<T>(ref: string): Promise<T> {
    return this.inner.getJson<T>(ref);
  }

  getJsonIfAny<T>(ref: string): Promise<T | undefined> {
    return this.inner.getJsonIfAny<T>(ref);
  }

  async remove(ref: string): Promise<void> {
    drop(`${this.id}\n${ref}`);
    await this.inner.remove(ref);
  }
}

/** What the memo holds now (for tests and metrics). */
export function memoStats(): { batches: number; rows: number } {
  return { batches: held.size, rows: heldRows };
}
