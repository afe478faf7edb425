/**
 * Merging a batch's changes by primary key: many changes to one row become the one statement that
 * leaves the row as the last change left it. Per table and key the result is either an upsert of
 * the final row or a delete of the key, so the merged table applies as "all deletes, then all
 * upserts" in any order within each group (every key appears once).
 *
 * The rules (DESIGN.md, "Rules that keep data right"): I+U→I, I+D→delete, U+U→U, U+D→D,
 * D+I→upsert, and an update that changes the primary key is a delete of the old key plus an
 * insert of the new one. A key that ends the batch absent is always deleted, even when the batch
 * inserted it (I+D): deleting an absent key is harmless, and it removes a row that the target
 * already had from an overlapping initial copy, so the target converges on the source.
 *
 * Upserts replace the whole row, so images must be whole rows (`binlog_row_image=FULL`).
 *
 * Field mode (lib/columns.ts): an update that carries `changed` writes only those columns. Merged,
 * U+U is an update of the union of both changed sets with the last values; anything that makes a
 * key whole (an insert, D+I, a key change, an update without `changed`) stays whole, so I+U is
 * still an insert of the last image. Such partial rows come out as `updates`, never as upserts:
 * they must not insert a row the target lacks with only some of its columns.
 *
 * Tables with unique keys besides the primary key are not merged (see `keepsBinlogOrder`).
 */
import type { Row, RowChange, SqlValue } from './model.js';
import type { TableMapping } from './spec.js';

/** The net effect of one table's changes in a batch: apply `deletes` first, then `upserts`. */
export interface MergedChanges {
  /** Before images (at least the key columns) of keys that end the batch absent. */
  deletes: Row[];
  /** Final after images of keys that end the batch present. */
  upserts: Row[];
  /** Field mode: key plus changed columns of keys only updated in the batch (UPDATE … WHERE key). */
  updates: Row[];
}

/** `MergedChanges` of one table, named. */
export interface MergedTable extends MergedChanges {
  schema: string;
  table: string;
}

/**
 * Whether a table must be applied in binlog order instead of merged: with another unique key,
 * reordered upserts can collide on it (row A frees a value that row B then takes).
 */
export function keepsBinlogOrder(table: Pick<TableMapping, 'uniqueKeys'>): boolean {
  return table.uniqueKeys.length > 0;
}

/** The `schema.table` identity of a table, for maps. */
export function tableKey(schema: string, table: string): string {
  return `${schema.length}:${schema}.${table}`;
}

/** A string identifying one key value: equal exactly when type and value (or bytes) are equal. */
export function valueKey(v: SqlValue): string {
  switch (typeof v) {
    case 'string':
      return `s${v}`;
    case 'number':
      return `n${v}`;
    case 'boolean':
      return v ? 'b1' : 'b0';
    default:
      if (v === null) return 'z';
      if (v instanceof Uint8Array) return `x${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')}`;
      throw new TypeError(`not a key value: ${typeof v}`);
  }
}

/**
 * A string identifying a row by the given key columns: equal exactly when every key value is
 * equal (same type, same value, same bytes). Throws when the image lacks a key column.
 */
export function keyString(row: Row, columns: readonly string[]): string {
  if (columns.length === 1) {
    const v = row[columns[0]];
    if (v === undefined) throw new Error(`row image lacks key column ${columns[0]}`);
    return valueKey(v);
  }
  let out = '';
  for (const c of columns) {
    const v = row[c];
    if (v === undefined) throw new Error(`row image lacks key column ${c}`);
    const k = valueKey(v);
    out += `${k.length}:${k}`;
  }
  return out;
}

function imageOf(change: RowChange, image: 'before' | 'after'): Row {
  const row = change[image];
  if (!row) throw new Error(`${change.action} on ${change.schema}.${change.table} without ${image} image`);
  return row;
}

/** Merges the changes of one table (in binlog order) by its primary key. */
export function mergeTableChanges(changes: readonly RowChange[], primaryKey: readonly string[]): MergedChanges {
  if (primaryKey.length === 0) throw new Error('cannot merge changes of a table without a primary key');
  // Per key, whether the row exists after the changes so far, its latest image, and (field mode)
  // the columns written so far when the batch only updated it. Map order is the order keys first
  // appear, which keeps the output deterministic.
  const state = new Map<string, { present: boolean; image: Row; partial?: Set<string> }>();
  const set = (row: Row, present: boolean, changed?: readonly string[]): void => {
    const key = keyString(row, primaryKey);
    const entry = state.get(key);
    if (!entry) {
      state.set(key, changed ? { present, image: row, partial: new Set(changed) } : { present, image: row });
      return;
    }
    // A partial update stays partial only while every change to the key so far was one.
    if (changed && entry.present && entry.partial) for (const c of changed) entry.partial.add(c);
    else delete entry.partial;
    entry.present = present;
    entry.image = row;
  };
  for (const c of changes) {
    switch (c.action) {
      case 'insert':
        set(imageOf(c, 'after'), true);
        break;
      case 'update': {
        const before = imageOf(c, 'before');
        const after = imageOf(c, 'after');
        if (keyString(before, primaryKey) !== keyString(after, primaryKey)) {
          set(before, false);
          set(after, true);
        } else {
          set(after, true, c.changed);
        }
        break;
      }
      case 'delete':
        set(imageOf(c, 'before'), false);
        break;
    }
  }
  const merged: MergedChanges = { deletes: [], upserts: [], updates: [] };
  for (const { present, image, partial } of state.values()) {
    if (!present) merged.deletes.push(image);
    else if (partial) merged.updates.push(partialRow(image, primaryKey, partial));
    else merged.upserts.push(image);
  }
  return merged;
}

/** The key columns and the changed ones of an image, in the image's column order. */
export function partialRow(image: Row, primaryKey: readonly string[], changed: ReadonlySet<string> | readonly string[]): Row {
  const has = changed instanceof Set ? (c: string) => changed.has(c) : (c: string) => (changed as readonly string[]).includes(c);
  const out: Row = {};
  for (const c of Object.keys(image)) if (primaryKey.includes(c) || has(c)) out[c] = image[c];
  return out;
}

/**
 * Merges a batch table by table (tables in order of first appearance). `primaryKeyOf` names the
 * key columns of a table as the images name them.
 */
export function mergeChanges(
  changes: readonly RowChange[],
  primaryKeyOf: (schema: string, table: string) => readonly string[],
): MergedTable[] {
  const byTable = new Map<string, RowChange[]>();
  for (const c of changes) {
    const key = tableKey(c.schema, c.table);
    const list = byTable.get(key);
    if (list) list.push(c);
    else byTable.set(key, [c]);
  }
  return [...byTable.values()].map((list) => {
    const { schema, table } = list[0];
    return { schema, table, ...mergeTableChanges(list, primaryKeyOf(schema, table)) };
  });
}
