/**
 * `load.mode: parallel` splits a batch's load plan across connections by a hash of each row's
 * primary key. Every row of a key lands in the same part, in plan order, so within a part the
 * plan's rules (deletes before upserts, weights, binlog order) still hold for that key; rows of
 * different keys may commit in any order, which is why a conflict between parts (a unique key
 * besides the primary key, a foreign key, a deadlock) makes the load fall back to one atomic
 * transaction.
 */
import type { LoadStep } from './load-plan.js';
import { valueKey } from './merge.js';
import type { SqlValue } from './model.js';

/** FNV-1a over the key's string form: stable across processes and runs. */
function hashKey(values: readonly SqlValue[]): number {
  let h = 0x811c9dc5;
  for (const v of values) {
    const s = valueKey(v);
    for (let i = 0; i < s.length; i++) {
      h ^= s.charCodeAt(i);
      h = Math.imul(h, 0x01000193);
    }
    h ^= 0xff; // separates the values of a composite key
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The part (0 … parts-1) of a row with these primary-key values. */
export function partOfKey(values: readonly SqlValue[], parts: number): number {
  return parts <= 1 ? 0 : hashKey(values) % parts;
}

/**
 * Splits steps into `parts` lists of steps: each step's rows go to the part of their key, and
 * each list keeps the plan's step order. Empty steps are left out; so a part may be empty.
 * Steps for which `whole(step)` holds (tables loaded in binlog order because of other unique
 * keys) go entirely to part 0: splitting them could make one part's row collide with another's.
 */
export function partitionSteps(steps: readonly LoadStep[], parts: number, whole: (step: LoadStep) => boolean = () => false): LoadStep[][] {
  const out: LoadStep[][] = Array.from({ length: Math.max(1, parts) }, () => []);
  if (parts <= 1) {
    out[0] = [...steps];
    return out;
  }
  for (const step of steps) {
    if (whole(step)) {
      out[0].push(step);
      continue;
    }
    const keyAt = step.key.map((k) => {
      const i = step.columns.indexOf(k);
      if (i < 0) throw new Error(`step on ${step.table.schema}.${step.table.table} lacks key column ${k}`);
      return i;
    });
    const rows: SqlValue[][][] = Array.from({ length: parts }, () => []);
    for (const row of step.rows) rows[partOfKey(keyAt.map((i) => row[i]), parts)].push(row);
    rows.forEach((r, p) => {
      if (r.length > 0) out[p].push({ ...step, rows: r });
    });
  }
  return out;
}
