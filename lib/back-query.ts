/**
 * `consistency: backQuery`, the pure part: which keys a batch must re-read from the source, and
 * how the current rows rewrite the captured changes. The source's data wins over a stale image:
 * an insert or update whose row no longer exists becomes a delete, one whose row exists carries
 * the row as it is now; deletes stay deletes (a row re-inserted since comes with a later change,
 * or with an insert in this same batch, which merges D+I into an upsert). Every later change of a
 * key re-reads it again, so the target converges on the source.
 */
import type { Row, RowChange, SqlValue } from './model.js';

/**
 * A key's identity for matching binlog images with re-read rows, by text: the two decoders may
 * give a number on one side and a numeric string on the other.
 */
export function looseKey(row: Row, columns: readonly string[]): string {
  let out = '';
  for (const c of columns) {
    const v: SqlValue | undefined = row[c];
    if (v === undefined) throw new Error(`row image lacks key column ${c}`);
    const s = v === null ? 'z' : v instanceof Uint8Array ? `x${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')}` : typeof v === 'boolean' ? (v ? 's1' : 's0') : `s${String(v)}`;
    out += `${s.length}:${s}`;
  }
  return out;
}

/** The key values (in key order) of every row a batch's changes of one table end on, once each. */
export function keysToReread(changes: readonly RowChange[], key: readonly string[]): SqlValue[][] {
  const seen = new Map<string, SqlValue[]>();
  for (const c of changes) {
    const image = c.action === 'delete' ? undefined : c.after;
    if (!image) continue;
    const k = looseKey(image, key);
    if (!seen.has(k)) seen.set(k, key.map((col) => image[col]));
  }
  return [...seen.values()];
}

/**
 * The changes rewritten with the current rows (`current`: looseKey → row; absent = gone). A
 * current row keeps the captured image's key values (equal as text, but perhaps not in type), so
 * merge and the parallel load's partitions see one key, not a key change.
 */
export function applyBackQuery(changes: readonly RowChange[], key: readonly string[], current: ReadonlyMap<string, Row>): RowChange[] {
  return changes.map((c): RowChange => {
    const { schema, table } = c;
    if (c.action === 'delete' || !c.after) return c;
    const found = current.get(looseKey(c.after, key));
    const now = found && { ...found, ...Object.fromEntries(key.map((k) => [k, c.after![k]])) };
    if (c.action === 'insert') return now ? { schema, table, action: 'insert', after: now } : { schema, table, action: 'delete', before: c.after };
    return now ? { schema, table, action: 'update', before: c.before, after: now } : { schema, table, action: 'delete', before: c.before };
  });
}
