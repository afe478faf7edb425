/**
 * The resolved pipeline: what `pipeline apply` hands to the pipeline workflow after checking both
 * databases. It holds no secret (data sources name their password variables) and no row data.
 */
import type { DataSourceConfig, MysqlSourceConfig, PipelineConfig, StageConfig } from './config/schema.js';
import type { WhereSpec } from './filter.js';
import type { BinlogPosition } from './model.js';

/** A source column and the target column it is written to. */
export interface ColumnMapping {
  source: string;
  target: string;
}

/** One source table mapped onto one target table, with the target's keys as introspected. */
export interface TableMapping {
  source: { schema: string; table: string };
  target: { schema: string; table: string };
  columns: ColumnMapping[];
  /** Target primary-key columns (target names), in key order. */
  primaryKey: string[];
  /** Target unique keys besides the primary key: their tables are applied in binlog order. */
  uniqueKeys: string[][];
  weight: number;
  /** Row filter on source column names, as configured (see lib/filter.ts); applied in transform. */
  where?: WhereSpec;
  /** Absolute path of the processor module for this table (the rule's, else the pipeline's). */
  processor?: string;
}

/** Everything a pipeline needs to run, resolved and checked by `pipeline apply`. */
export interface PipelineSpec {
  id: string;
  sourceName: string;
  targetName: string;
  source: MysqlSourceConfig;
  target: DataSourceConfig;
  stage: StageConfig;
  tables: TableMapping[];
  batch: PipelineConfig['batch'];
  load: PipelineConfig['load'];
  ddl: PipelineConfig['ddl'];
  consistency: PipelineConfig['consistency'];
  continueAsNewEvery: number;
  /** Where capture starts when no checkpoint exists. */
  start: BinlogPosition;
  /**
   * Task queues: the workflows, capture, extract and transform at the source's datacenter; file
   * copy and load at the target's.
   */
  sourceQueue: string;
  targetQueue: string;
  /** Hash of the spec, so `apply` can tell an unchanged pipeline from a changed one. */
  version: string;
}

/** The task queue of a datacenter. */
export function taskQueueFor(datacenter: string): string {
  return `seaotter.${datacenter}`;
}

export function pipelineWorkflowId(pipelineId: string): string {
  return `seaotter-pipeline-${pipelineId}`;
}

export function batchWorkflowId(pipelineId: string, seq: number): string {
  return `seaotter-batch-${pipelineId}-${seq}`;
}
