/**
 * What transform does to the changes of one table, in this order: the row filter (so the target
 * holds exactly the rows that pass), the processor, then column mapping (with derived columns,
 * columns the processor added, and in field mode the update's changed columns). Filter and processor see
 * source table and column names. Anything that goes wrong here is the data's or the user code's
 * fault, so it fails for good ('TransformFailed') and halts the pipeline with a message naming the
 * table and the row's primary key, never the whole row.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { addDerived, toFieldChange } from '../../lib/columns.js';
import { compileFilter, FilterColumnError, filterChange } from '../../lib/filter.js';
import { mapChange } from '../../lib/mapping.js';
import type { Row, RowChange, SqlValue } from '../../lib/model.js';
import type { Processor, ProcessorContext } from '../../lib/processor.js';
import type { PipelineSpec, TableMapping } from '../../lib/spec.js';
import { loadProcessor } from './load-processor.js';

/** The transform of one table for one batch, with counts of what it dropped. */
export interface TableTransform {
  /** Synchronous unless the table has a processor (it may be async): callers await only a Promise. */
  apply(change: RowChange): RowChange | null | Promise<RowChange | null>;
  /** Changes the filter left out (the target is unaffected by them). */
  filtered: number;
  /** Changes the processor dropped. */
  dropped: number;
}

function failed(message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, 'TransformFailed');
}

function formatValue(v: SqlValue | undefined): string {
  if (v instanceof Uint8Array) return `0x${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')}`;
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

/** `id=5`, or `a=1, b="x"`: a row's primary key for messages. */
export function formatKey(row: Row | undefined, columns: readonly string[]): string {
  if (!row) return '(no row image)';
  return columns.map((c) => `${c}=${formatValue(row[c])}`).join(', ');
}

function isValue(v: unknown): v is SqlValue {
  return v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' || v instanceof Uint8Array;
}

/** The change a processor returned, checked; throws with what is wrong. */
export function checkProcessorResult(result: unknown, original: RowChange): RowChange | null {
  if (result === null || result === undefined) return null;
  const r = result as Partial<RowChange>;
  if (typeof r !== 'object' || !['insert', 'update', 'delete'].includes(r.action as string)) {
    throw new Error('returned something that is not a change (expected { action, before?, after? } or null)');
  }
  const action = r.action!;
  const out: RowChange = { schema: original.schema, table: original.table, action };
  for (const image of ['before', 'after'] as const) {
    const row = r[image];
    const needed = image === 'before' ? action !== 'insert' : action !== 'delete';
    if (row === undefined || row === null) {
      if (needed) throw new Error(`returned a${action === 'insert' ? 'n' : ''} ${action} without ${image} image`);
      continue;
    }
    if (typeof row !== 'object' || Array.isArray(row)) throw new Error(`returned a change whose ${image} image is not a row`);
    for (const [column, v] of Object.entries(row as Record<string, unknown>)) {
      if (!isValue(v)) {
        const kind = typeof v === 'object' ? (v as object).constructor?.name ?? 'object' : typeof v;
        throw new Error(`returned a change whose ${image} image has column ${column} of type ${kind}; values must be strings, numbers, booleans, null or bytes`);
      }
    }
    out[image] = row;
  }
  return out;
}

/** Source names of the target's primary-key columns, for messages. */
function sourceKey(mapping: TableMapping): string[] {
  return mapping.primaryKey.map((t) => mapping.columns.find((c) => c.target === t)?.source ?? t);
}

/** Compiles the table's filter and loads its processor; a broken one fails the transform for good. */
export async function prepareTableTransform(spec: PipelineSpec, mapping: TableMapping, seq: number): Promise<TableTransform> {
  const table = `${mapping.source.schema}.${mapping.source.table}`;
  const key = sourceKey(mapping);
  let passes: ((row: Row) => boolean) | undefined;
  if (mapping.where) {
    try {
      passes = compileFilter(mapping.where);
    } catch (err) {
      throw failed(`row filter of ${table}: ${(err as Error).message}`);
    }
  }
  let processor: Processor | undefined;
  if (mapping.processor) {
    try {
      processor = await loadProcessor(mapping.processor);
    } catch (err) {
      throw failed(`${(err as Error).message} (table ${table})`);
    }
  }
  const context: ProcessorContext = Object.freeze({ pipeline: spec.id, table, seq });

  const t: TableTransform = {
    filtered: 0,
    dropped: 0,
    apply(change) {
      let kept: RowChange | null = change;
      if (passes) {
        try {
          kept = filterChange(change, passes);
        } catch (err) {
          const hint = err instanceof FilterColumnError ? ' (was the table altered? run pipeline apply again)' : '';
          throw failed(`row filter of ${table} on row ${formatKey(change.after ?? change.before, key)}: ${(err as Error).message}${hint}`);
        }
        if (!kept) {
          t.filtered++;
          return null;
        }
      }
      if (!processor) return mapped(kept);
      // The source row's columns (the binlog image has them all), before the processor may edit it in place.
      const had = new Set(Object.keys(kept.after ?? kept.before ?? {}));
      return runProcessor(processor, kept).then((p) => (p ? mapped(p, had) : null));
    },
  };

  async function runProcessor(run: Processor, kept: RowChange): Promise<RowChange | null> {
    const image = kept.after ?? kept.before;
    const keyValues: Row = {};
    for (const c of key) if (image && c in image) keyValues[c] = image[c];
    let out: RowChange | null;
    try {
      let result = run(kept, context);
      if (result instanceof Promise) result = await result;
      out = checkProcessorResult(result, kept);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      throw failed(`processor ${mapping.processor} failed on ${table} row ${formatKey(keyValues, key)}: ${message}`);
    }
    if (!out) t.dropped++;
    return out;
  }

  /**
   * Columns a processor added (the source row did not have them) go to the target's columns of
   * the same names: the mapping's rules are for the source's columns. One the mapping already
   * fills is refused rather than one value silently taking the other's place.
   */
  function withAdded(change: RowChange, from: RowChange, had: Set<string>): RowChange {
    for (const image of ['before', 'after'] as const) {
      const source = from[image];
      const target = change[image];
      if (!source || !target) continue;
      const filled = new Set([...Object.keys(target), ...(mapping.derived ?? []).map((d) => d.target)].map((c) => c.toLowerCase()));
      for (const c of Object.keys(source)) {
        if (had.has(c)) continue;
        // MySQL's column names are case-insensitive: `Region` would be `region` written twice.
        if (filled.has(c.toLowerCase())) {
          throw new Error(`the processor added column ${c}, which the table's mapping already fills; give it another name`);
        }
        target[c] = source[c]!;
      }
    }
    return change;
  }

  function mapped(kept: RowChange, had?: Set<string>): RowChange | null {
    try {
      // Derived columns and field mode work on target names (lib/columns.ts).
      const target = had ? withAdded(mapChange(kept, mapping), kept, had) : mapChange(kept, mapping);
      const out = toFieldChange(addDerived(target, kept, mapping), mapping);
      if (!out) t.filtered++;
      return out;
    } catch (err) {
      throw failed(`transform of ${table} failed on row ${formatKey(kept.after ?? kept.before, key)}: ${(err as Error).message}`);
    }
  }
  return t;
}
