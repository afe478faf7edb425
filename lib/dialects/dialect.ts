/**
 * A target dialect: a small object with a query compiler and documented
 * capability flags. Compilers are pure (SQL text and positional parameters out); drivers and
 * connections live in the load activity.
 */
import type { LoadStep } from '../load-plan.js';
import type { SqlValue } from '../model.js';

/** One statement with its parameters in placeholder order. */
export interface CompiledQuery {
  kind: 'query';
  sql: string;
  params: SqlValue[];
}

/** One statement run once per row (`executeMany`); each row's binds are in placeholder order. */
export interface CompiledBatch {
  kind: 'batch';
  sql: string;
  rows: SqlValue[][];
  /** The column of each bind in `rows`, in bind order (the step's columns unless the statement orders them otherwise). */
  columns: string[];
}

/** What a load step compiles to: a query on multi-row dialects, a batch on the others. */
export type CompiledStep = CompiledQuery | CompiledBatch;

/** The checkpoint row a load writes in its own transaction. */
export interface CheckpointWrite {
  pipeline: string;
  seq: number;
  /** The batch's end position, formatted (`formatPosition`); at most 512 characters. */
  position: string;
  /** Rows this batch applied; the table keeps the running total in `rows_applied`. */
  rows: number;
}

/** Turns load steps and checkpoint operations into SQL for one dialect. */
export interface QueryCompiler {
  compileStep(step: LoadStep): CompiledStep;
  compileUpsert(step: LoadStep): CompiledStep;
  compileDelete(step: LoadStep): CompiledStep;
  /** Field mode: sets the step's non-key columns of rows matched by key; a row the target lacks stays absent. */
  compileUpdate(step: LoadStep): CompiledStep;
  /** Reads (and locks, `FOR UPDATE`) the pipeline's checkpoint: columns `seq`, `position`, `rows_applied`. */
  compileCheckpointSelect(metaSchema: string, pipelineId: string): CompiledQuery;
  compileCheckpointUpsert(metaSchema: string, checkpoint: CheckpointWrite): CompiledQuery;
  compileCheckpointTableDdl(metaSchema: string): CompiledQuery;
}

/** What a dialect can do, so the load activity can choose how to run compiled steps. */
export interface DialectCapabilities {
  /**
   * One statement carries many rows (`VALUES (…),(…)`, `IN (…)`): steps compile to a
   * `CompiledQuery`. When false they compile to a `CompiledBatch` for `executeMany`.
   */
  supportsMultiRowValues: boolean;
  /** Most placeholders one statement may have (pass as `maxParams` to `planLoad`). */
  maxParams: number;
  /**
   * The checkpoint DDL says `IF NOT EXISTS`. When false, running it on an existing table fails
   * (Oracle: ORA-00955) and the caller treats that error as success.
   */
  ddlIfNotExists: boolean;
}

/** A target database dialect. */
export interface SqlDialect {
  name: 'mysql' | 'oracle';
  compiler: QueryCompiler;
  capabilities: DialectCapabilities;
}
