/**
 * The configuration schema of CONTRACT.md. Secrets are never values here: data sources name the
 * environment variables that hold them (`passwordEnv`, `accessKeyEnv`, `secretKeyEnv`).
 */
import { z } from 'zod';
import { validateWhere, type WhereSpec } from '../filter.js';
import { columnRules, syncMode } from './columns-schema.js';

const name = z.string().regex(/^[A-Za-z0-9_.-]+$/, 'use letters, digits, "_", "-" or "." only');
const datacenter = name;
const port = z.number().int().min(1).max(65535);
/** The name of an environment variable that holds a secret (the secret itself never is in the config). */
const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must name an environment variable');

const mysqlSource = z.strictObject({
  type: z.enum(['mysql', 'mariadb']),
  host: z.string().min(1),
  port: port.default(3306),
  user: z.string().min(1),
  passwordEnv: envName.optional(),
  datacenter,
  /** Schema that holds seaotter's own tables (checkpoint) on a target. */
  metaSchema: name.default('seaotter'),
  /** Server id used when reading this source's binlog; unique among its replicas. */
  serverId: z.number().int().min(1).max(4294967295).optional(),
});

const oracleSource = z.strictObject({
  type: z.literal('oracle'),
  connectString: z.string().min(1),
  user: z.string().min(1),
  passwordEnv: envName.optional(),
  datacenter,
  /** Schema (user) that holds the checkpoint table on an Oracle target; default: the connecting user's own schema. */
  metaSchema: z.string().regex(/^[A-Za-z][A-Za-z0-9_$#]*$/, 'an Oracle schema name, e.g. SEAOTTER').optional(),
});

const s3Store = z.strictObject({
  type: z.literal('s3'),
  endpoint: z.string().url().optional(),
  /** By datacenter: the endpoint a worker of that datacenter uses instead of `endpoint`; keys are checked in lib/config/endpoints.ts. */
  endpoints: z.record(z.string(), z.string().url()).optional(),
  bucket: z.string().min(1),
  region: z.string().default('us-east-1'),
  accessKeyEnv: envName.optional(),
  secretKeyEnv: envName.optional(),
  datacenter,
});

const dirStore = z.strictObject({ type: z.literal('dir'), path: z.string().min(1), datacenter });

export const dataSourceSchema = z.discriminatedUnion('type', [mysqlSource, oracleSource, s3Store, dirStore]);

const position = z.union([
  z.literal('current'),
  z.strictObject({ gtid: z.string().regex(/^\d+-\d+-\d+(,\d+-\d+-\d+)*$/, 'a MariaDB GTID such as "0-1-100"') }),
  z.strictObject({ file: z.string().min(1), pos: z.number().int().min(4) }),
]);

/** A row filter (grammar in lib/filter.ts); every problem is reported by its path below `where`. */
const where = z.custom<WhereSpec>().superRefine((value, ctx) => {
  for (const p of validateWhere(value)) ctx.addIssue({ code: 'custom', message: p.message, path: p.path });
});

/** A processor module, relative to the config file (made absolute when the file is read). */
const processor = z.string().min(1, 'name a module file, e.g. ./processors/mask-email.mjs');

/**
 * Which column(s) of a row name a file, how a value becomes an object key, and from which file
 * store to which (lib/file-keys.ts derives the keys).
 */
const fileRule = z
  .strictObject({
    column: z.string().min(1).optional(),
    columns: z.array(z.string().min(1)).min(1).optional(),
    from: name,
    to: name,
    /** Put before every key (e.g. "pics/"). */
    prefix: z.string().optional(),
    /** The key from the row: `{value}` is the column's value, `{col}` any source column. */
    template: z.string().min(1).optional(),
    /** A module whose default export `(row, context) => string[]` returns the row's keys. */
    resolver: z.string().min(1).optional(),
    onDelete: z.enum(['delete', 'keep']).default('keep'),
    onMissing: z.enum(['halt', 'skip']).default('halt'),
  })
  .superRefine((r, ctx) => {
    if (r.column !== undefined && r.columns !== undefined) ctx.addIssue({ code: 'custom', message: 'give column or columns, not both' });
    if (r.column === undefined && r.columns === undefined && r.resolver === undefined) {
      ctx.addIssue({ code: 'custom', message: 'name the column that holds the file (column: …), or a resolver module' });
    }
    if (r.template !== undefined && r.resolver !== undefined) ctx.addIssue({ code: 'custom', path: ['template'], message: 'give template or resolver, not both' });
  });

const tableRule = z.strictObject({
  /** `schema.table` exactly, or a regex on it (see `isRegexPattern`). */
  source: z.string().min(3),
  /** `schema.table` on the target; defaults to the source name. May use `$1` from a regex. */
  target: z.string().min(3).optional(),
  columns: columnRules.optional(),
  /** Replaces the pipeline's `mode` for this rule's tables. */
  mode: syncMode.optional(),
  where: where.optional(),
  /** Replaces the pipeline's `processor` for this rule's tables. */
  processor: processor.optional(),
  weight: z.number().int().default(0),
  files: z.array(fileRule).optional(),
});

const pipeline = z.strictObject({
  id: name,
  source: name,
  target: name,
  start: position.default('current'),
  tables: z.array(tableRule).min(1, 'map at least one table'),
  batch: z
    .strictObject({
      maxRows: z.number().int().min(1).max(1_000_000).default(20_000),
      maxWaitMs: z.number().int().min(1).max(60_000).default(50),
      /** Batches accepted but not yet committed before capture waits (backpressure). */
      maxInFlight: z.number().int().min(1).max(64).default(4),
      /**
       * A transformed batch up to this many bytes (JSON) travels inside the load activity's input
       * instead of the stage: one stage round trip less per batch across datacenters. Row data
       * then sits in workflow history (encrypted only with SEAOTTER_CODEC_KEY). 0: never.
       */
      inlineMaxBytes: z.number().int().min(0).max(1_048_576).default(0),
      /**
       * While the binlog moves on with none of the pipeline's rows (other tables are written),
       * an empty batch this often carries the position to the target's checkpoint, so a restart
       * resumes near the binlog's end rather than in a file the server has since purged.
       */
      idleAdvanceSeconds: z.number().int().min(1).max(86_400).default(300),
    })
    .prefault({}),
  load: z
    .strictObject({
      mode: z.enum(['atomic', 'parallel']).default('atomic'),
      parallelism: z.number().int().min(1).max(64).default(4),
      onError: z.enum(['halt', 'skip']).default('halt'),
    })
    .prefault({}),
  ddl: z.enum(['apply', 'skip']).default('skip'),
  consistency: z.enum(['binlog', 'backQuery']).default('binlog'),
  /** `row` writes whole rows; `field` writes only the changed columns (and their groups) of an update. */
  mode: syncMode.default('row'),
  twoWay: z.strictObject({ peer: name }).optional(),
  /** Processor for every table rule that names none. */
  processor: processor.optional(),
  /** Continue-as-new after this many committed batches (history stays small). */
  continueAsNewEvery: z.number().int().min(1).default(500),
});

const stage = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('local'), dir: z.string().min(1) }),
  z.strictObject({ type: z.literal('s3'), source: name, prefix: z.string().default('stage/') }),
]);

export const configSchema = z.strictObject({
  dataSources: z.record(name, dataSourceSchema),
  stage: stage.default({ type: 'local', dir: '/var/lib/seaotter/stage' }),
  pipelines: z.array(pipeline).min(1, 'define at least one pipeline'),
});

export type SeaotterConfig = z.output<typeof configSchema>;
export type DataSourceConfig = z.output<typeof dataSourceSchema>;
export type MysqlSourceConfig = z.output<typeof mysqlSource>;
export type OracleSourceConfig = z.output<typeof oracleSource>;
export type PipelineConfig = z.output<typeof pipeline>;
export type TableRuleConfig = z.output<typeof tableRule>;
export type StageConfig = z.output<typeof stage>;
export type FileRuleConfig = z.output<typeof fileRule>;
export type S3StoreConfig = z.output<typeof s3Store>;
export type DirStoreConfig = z.output<typeof dirStore>;
export type FileStoreConfig = S3StoreConfig | DirStoreConfig;
export type StartPosition = z.output<typeof position>;
