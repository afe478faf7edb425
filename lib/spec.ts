/**
 * The resolved pipeline: what `pipeline apply` hands to the pipeline workflow after checking both
 * databases. It holds no secret (data sources name their password variables) and no row data.
 */
import type { DataSourceConfig, FileStoreConfig, MysqlSourceConfig, PipelineConfig, S3StoreConfig, SeaotterConfig } from './config/schema.js';
import type { DerivedColumn } from './columns.js';
import type { FileRule } from './file-keys.js';
import type { WhereSpec } from './filter.js';
import type { ColumnRulesConfig } from './config/columns-schema.js';
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
  /** Files the rows name, copied with them (lib/file-keys.ts). */
  files?: FileRule[];
  /** Source primary-key columns (source names): what `consistency: backQuery` re-reads by. */
  sourceKey?: string[];
  /** Column groups, by target name: when one changes, field mode writes the whole group. */
  groups?: string[][];
  /** Target columns seaotter fills (constant, source table name, copy of a column). */
  derived?: DerivedColumn[];
  /** `field`: updates write only their changed columns; absent means whole rows. */
  mode?: 'field';
  /** Index of the rule in `PipelineSpec.rules` that mapped this table (new columns follow it). */
  rule?: number;
}

/**
 * A table rule as configured (processor path made absolute). Kept in the spec so that columns
 * added later, and tables created later that a regex rule matches, map the way the config says.
 */
export interface TableRuleSpec {
  source: string;
  target?: string;
  columns?: ColumnRulesConfig;
  where?: WhereSpec;
  weight: number;
  processor?: string;
  /** The rule's file rules, for tables created later that it maps (a row never loads without its file). */
  files?: FileRule[];
}

/** The stage as resolved: an s3 stage carries its store's settings (credentials by env name only). */
export type ResolvedStage =
  | { type: 'local'; dir: string }
  | { type: 's3'; source: string; prefix: string; store: S3StoreConfig };

/** Everything a pipeline needs to run, resolved and checked by `pipeline apply`. */
export interface PipelineSpec {
  id: string;
  sourceName: string;
  targetName: string;
  source: MysqlSourceConfig;
  target: DataSourceConfig;
  stage: ResolvedStage;
  /** The file stores that file rules name, by data source name. */
  fileStores?: Record<string, FileStoreConfig>;
  tables: TableMapping[];
  /** The configured table rules, in order (absent in specs from older builds). */
  rules?: TableRuleSpec[];
  batch: PipelineConfig['batch'];
  load: PipelineConfig['load'];
  ddl: PipelineConfig['ddl'];
  consistency: PipelineConfig['consistency'];
  continueAsNewEvery: number;
  /** Where capture starts when no checkpoint exists. */
  start: BinlogPosition;
  /**
   * The source compares table names without case (lower_case_table_names 1 or 2): a statement
   * may name `Shop.Orders` where the binlog's rows say `shop.orders`. Absent when it does not.
   */
  sourceFoldsNames?: boolean;
  /**
   * Task queues: the workflows, capture, extract and transform at the source's datacenter; file
   * copy and load at the target's.
   */
  sourceQueue: string;
  targetQueue: string;
  /** Hash of the spec, so `apply` can tell an unchanged pipeline from a changed one. */
  version: string;
  /**
   * With SEAOTTER_CODEC_KEY: `pipeline apply`'s signature of everything above (`<key id>:<HMAC>`,
   * client/codec.ts), which workers with the key check before they act on the spec.
   */
  signature?: string;
}

/** The stage with its store's settings (an s3 stage). */
export function resolveStage(config: SeaotterConfig): ResolvedStage {
  const stage = config.stage;
  if (stage.type === 'local') return stage;
  const store = config.dataSources[stage.source];
  if (store?.type !== 's3') throw new Error(`stage.source: "${stage.source}" is not an s3 data source`);
  return { ...stage, store };
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
