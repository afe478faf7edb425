/**
 * Processors: user code that may change or drop a row change in transform. A table rule (or the
 * pipeline) names a module with `processor: ./path.mjs`; its default export, or its export named
 * `process`, is a `Processor`. It runs after the row filter and before column mapping, so it sees
 * source table and column names. The loader lives in activities/transform (lib stays pure).
 */
import type { RowChange } from './model.js';

/** What a processor is told about the change it gets. */
export interface ProcessorContext {
  /** The pipeline id. */
  pipeline: string;
  /** The source table, `schema.table`. */
  table: string;
  /** The batch's seq. */
  seq: number;
}

/** What a processor may return: the change to keep (changed or not), or null/undefined to drop it. */
export type ProcessorResult = RowChange | null | undefined;

/**
 * A processor. It may modify the change it gets and return it. The returned change's `schema` and
 * `table` are ignored (the table rule decides the target); its values must be what the binlog
 * gives: strings, numbers, booleans, null or bytes. A throw halts the pipeline.
 */
export type Processor = (change: RowChange, context: ProcessorContext) => ProcessorResult | Promise<ProcessorResult>;
