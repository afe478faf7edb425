/**
 * The load plan: the statements a batch becomes on the target, in the order they must run inside
 * the load transaction. Tables load one after another, higher `weight` first; per table, merged
 * changes load as all deletes then all upserts, and tables with other unique keys load in binlog
 * order (see `merge.ts` for why both are right). Field-mode updates (only their changed columns)
 * load after the upserts, as `update` steps. Steps are cut so every compiled statement stays
 * under the target's packet limit.
 */
import { keepsBinlogOrder, keyString, mergeTableChanges, partialRow, tableKey } from './merge.js';
import type { Row, RowChange, SqlValue } from './model.js';
import type { TableMapping } from './spec.js';

/** A target table. */
export interface TableRef {
  schema: string;
  table: string;
}

/** One statement's worth of work: rows of one kind for one table, all with the same columns. */
export interface LoadStep {
  /** `update`: UPDATE … SET the non-key columns WHERE key, for rows the target should have (field mode). */
  kind: 'upsert' | 'delete' | 'update';
  table: TableRef;
  /** Upsert and update: the columns of every row; delete: the primary key. */
  columns: string[];
  /** The table's primary key (an upsert matches on it; for a delete it equals `columns`). */
  key: string[];
  /** One tuple per row, values in `columns` order. */
  rows: SqlValue[][];
}

/** What the plan needs to know of a table mapping (target names). */
export type LoadTable = Pick<TableMapping, 'target' | 'primaryKey' | 'uniqueKeys' | 'weight'>;

export interface PlanLoadOptions {
  /** Upper bound for one compiled statement with its values inlined (MySQL: under max_allowed_packet). */
  maxStatementBytes: number;
  /** Upper bound for the values of one step (prepared statements allow 65535 placeholders). */
  maxParams?: number;
}

/**
 * A generous estimate of a value's size in SQL text: strings and bytes may double when escaped or
 * written as hex.
 */
export function estimateValueBytes(v: SqlValue): number {
  switch (typeof v) {
    case 'string':
      return 2 * Buffer.byteLength(v, 'utf8') + 2;
    case 'number':
      return 24;
    case 'boolean':
      return 5;
    default:
      return v === null ? 4 : 2 * v.byteLength + 3;
  }
}

/** Identifier size once quoted and escaped, with room for the separator. */
function nameBytes(name: string): number {
  return 2 * Buffer.byteLength(name, 'utf8') + 4;
}

/** Fixed text of a statement: keywords, table and column names (an upsert names columns about three times). */
function headerBytes(kind: LoadStep['kind'], table: TableRef, columns: readonly string[]): number {
  let bytes = 128 + nameBytes(table.schema) + nameBytes(table.table);
  for (const c of columns) bytes += (kind === 'delete' ? 1 : 3) * (nameBytes(c) + 8);
  return bytes;
}

/**
 * Rows in one update step. A multi-row UPDATE picks each row's values by key (MySQL: CASE per
 * column), which costs rows² comparisons, so update steps stay small.
 */
export const MAX_UPDATE_ROWS = 200;

function sameColumns(columns: readonly string[], row: Row): boolean {
  let n = 0;
  for (const c in row) {
    if (n >= columns.length || columns[n] !== c) return false;
    n++;
  }
  return n === columns.length;
}

/** Collects rows into steps, starting a new step when the kind, the columns or a size limit changes. */
class StepWriter {
  readonly steps: LoadStep[] = [];
  private current: LoadStep | undefined;
  private bytes = 0;
  /** Keys of the current update step: a multi-row UPDATE takes the first values given for a key (MySQL's CASE), so a key's second update starts a step. */
  private updateKeys = new Set<string>();
  private readonly maxParams: number;

  constructor(private readonly opts: PlanLoadOptions) {
    this.maxParams = opts.maxParams ?? Infinity;
  }

  /** Starts a new table: its steps never share a statement with the previous table's. */
  startTable(): void {
    this.current = undefined;
  }

  add(kind: LoadStep['kind'], table: LoadTable, row: Row): void {
    const key = table.primaryKey;
    let step = this.current;
    if (!step || step.kind !== kind || (kind !== 'delete' && !sameColumns(step.columns, row))) step = undefined;
    const columns = step ? step.columns : kind === 'delete' ? key : Object.keys(row);
    const values: SqlValue[] = new Array(columns.length);
    let rowBytes = 4;
    let keyBytes = 0;
    for (let i = 0; i < columns.length; i++) {
      const v = row[columns[i]];
      if (v === undefined) throw new Error(`${kind} on ${name(table)}: row image lacks key column ${columns[i]}`);
      values[i] = v;
      rowBytes += estimateValueBytes(v) + 2;
      if (kind === 'update' && key.includes(columns[i])) keyBytes += estimateValueBytes(v) + 16;
    }
    // An update names each row's key once per column it sets, and once more in its WHERE.
    const nonKey = columns.length - key.length;
    if (kind === 'update') rowBytes += keyBytes * nonKey + 16 * nonKey;
    const params = kind === 'update' ? nonKey * (key.length + 1) + key.length : columns.length;
    // A row that alone exceeds the limit still gets its own step: the target then refuses it
    // visibly instead of the plan dropping it.
    if (
      step &&
      (this.bytes + rowBytes > this.opts.maxStatementBytes ||
        (step.rows.length + 1) * params > this.maxParams ||
        (kind === 'update' && step.rows.length >= MAX_UPDATE_ROWS))
    ) {
      step = undefined;
    }
    const updateKey = kind === 'update' ? keyString(row, key) : undefined;
    if (step && updateKey !== undefined && this.updateKeys.has(updateKey)) step = undefined;
    if (!step) {
      if (kind !== 'delete') for (const k of key) if (!(k in row)) throw new Error(`${kind} on ${name(table)}: row image lacks key column ${k}`);
      step = { kind, table: { ...table.target }, columns: [...columns], key: [...key], rows: [] };
      this.steps.push(step);
      this.current = step;
      this.bytes = headerBytes(kind, table.target, columns);
      this.updateKeys.clear();
    }
    if (updateKey !== undefined) this.updateKeys.add(updateKey);
    step.rows.push(values);
    this.bytes += rowBytes;
  }
}

function name(table: LoadTable): string {
  return `${table.target.schema}.${table.target.table}`;
}

/**
 * Plans the load of one batch. `changes` are already mapped to target table and column names;
 * every table they touch must be in `tables`. Tables load in descending `weight` (a table with
 * weight 10 loads before one with weight 0); equal weights keep their order of first appearance
 * in the batch.
 */
export function planLoad(changes: readonly RowChange[], tables: readonly LoadTable[], opts: PlanLoadOptions): LoadStep[] {
  const known = new Map<string, LoadTable>();
  for (const t of tables) known.set(tableKey(t.target.schema, t.target.table), t);

  const groups = new Map<string, { table: LoadTable; changes: RowChange[] }>();
  for (const c of changes) {
    const key = tableKey(c.schema, c.table);
    let group = groups.get(key);
    if (!group) {
      const table = known.get(key);
      if (!table) throw new Error(`no table mapping for target table ${c.schema}.${c.table}`);
      if (table.primaryKey.length === 0) throw new Error(`target table ${c.schema}.${c.table} has no primary key`);
      group = { table, changes: [] };
      groups.set(key, group);
    }
    group.changes.push(c);
  }

  // Array.prototype.sort is stable, so equal weights keep their first-appearance order.
  const ordered = [...groups.values()].sort((a, b) => b.table.weight - a.table.weight);
  const out = new StepWriter(opts);
  for (const { table, changes: list } of ordered) {
    out.startTable();
    if (keepsBinlogOrder(table)) {
      for (const c of list) addInBinlogOrder(out, table, c);
    } else {
      const merged = mergeTableChanges(list, table.primaryKey);
      for (const row of merged.deletes) out.add('delete', table, row);
      for (const row of merged.upserts) out.add('upsert', table, row);
      // Every key appears once, so updates may be reordered: rows setting the same columns share steps.
      for (const rows of bySignature(merged.updates)) for (const row of rows) out.add('update', table, row);
    }
  }
  return out.steps;
}

/** One change as statements in binlog order; consecutive changes of one kind share a step. */
function addInBinlogOrder(out: StepWriter, table: LoadTable, c: RowChange): void {
  const image = (which: 'before' | 'after'): Row => {
    const row = c[which];
    if (!row) throw new Error(`${c.action} on ${name(table)} without ${which} image`);
    return row;
  };
  switch (c.action) {
    case 'insert':
      out.add('upsert', table, image('after'));
      break;
    case 'update': {
      const before = image('before');
      const after = image('after');
      // A primary-key change: the old key goes first, so the new row cannot meet it.
      if (keyString(before, table.primaryKey) !== keyString(after, table.primaryKey)) out.add('delete', table, before);
      else if (c.changed) {
        out.add('update', table, partialRow(after, table.primaryKey, c.changed));
        break;
      }
      out.add('upsert', table, after);
      break;
    }
    case 'delete':
      out.add('delete', table, image('before'));
      break;
  }
}

/** Rows grouped by their column list, groups in order of first appearance. */
function bySignature(rows: readonly Row[]): Row[][] {
  const groups = new Map<string, Row[]>();
  for (const row of rows) {
    const sig = Object.keys(row).join('\0');
    const list = groups.get(sig);
    if (list) list.push(row);
    else groups.set(sig, [row]);
  }
  return [...groups.values()];
}
