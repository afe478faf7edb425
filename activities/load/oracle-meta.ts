/**
 * Per-target facts an Oracle loader learns once: the schema of the checkpoint table (configured,
 * or the connecting user's own), that the table and the pipeline's row exist, and the types of
 * the target tables' columns (which decide how each value is bound).
 */
import type oracledb from 'oracledb';
import type { OracleSourceConfig } from '../../lib/config/schema.js';
import { oracleDialect } from '../../lib/dialects/index.js';
import { bindKindOf, type OracleBindKind } from '../../lib/dialects/oracle/oracle-binds.js';
import type { TableRef } from '../../lib/load-plan.js';

const ensured = new Set<string>();
const metaSchemas = new Map<string, string>();
const columnKinds = new Map<string, Map<string, OracleBindKind>>();
const keyOf = (t: OracleSourceConfig) => `${t.connectString}/${t.user}`;

/** The checkpoint table's schema: `metaSchema` as configured (upper case, as Oracle folds user names), else CURRENT_SCHEMA. */
export async function oracleMetaSchema(conn: oracledb.Connection, target: OracleSourceConfig): Promise<string> {
  if (target.metaSchema) return target.metaSchema.toUpperCase();
  let schema = metaSchemas.get(keyOf(target));
  if (!schema) {
    const r = await conn.execute<[string]>("SELECT SYS_CONTEXT('USERENV', 'CURRENT_SCHEMA') FROM dual");
    schema = r.rows![0][0];
    metaSchemas.set(keyOf(target), schema);
  }
  return schema;
}

/**
 * Creates the checkpoint table and the pipeline's row (seq 0) on first use; loads take turns on
 * the row's lock, so it must exist before any of them. Oracle stores '' as NULL, hence the '-'
 * position of a row that has applied nothing (never read while seq is 0).
 */
export async function ensureOracleCheckpoint(conn: oracledb.Connection, target: OracleSourceConfig, metaSchema: string, pipeline: string): Promise<void> {
  const key = `${keyOf(target)}/${metaSchema}/${pipeline}`;
  if (ensured.has(key)) return;
  try {
    await conn.execute(oracleDialect.compiler.compileCheckpointTableDdl(metaSchema).sql);
  } catch (err) {
    if ((err as { errorNum?: number }).errorNum !== 955) throw err; // ORA-00955: it exists already
  }
  const table = `"${metaSchema}"."SEAOTTER_CHECKPOINT"`;
  await conn.execute(
    `MERGE INTO ${table} t USING (SELECT :1 "PIPELINE" FROM dual) s ON (t."PIPELINE" = s."PIPELINE")` +
      ` WHEN NOT MATCHED THEN INSERT ("PIPELINE", "SEQ", "POSITION", "ROWS_APPLIED") VALUES (s."PIPELINE", 0, '-', 0)`,
    [pipeline],
    { autoCommit: true },
  );
  ensured.add(key);
}

/** Column name → bind kind of a target table; a table that is not there is ORA-00942. */
export async function oracleColumnKinds(conn: oracledb.Connection, target: OracleSourceConfig, table: TableRef): Promise<Map<string, OracleBindKind>> {
  const key = `${keyOf(target)}/${table.schema}/${table.table}`;
  let kinds = columnKinds.get(key);
  if (!kinds) {
    const r = await conn.execute<[string, string]>(
      'SELECT COLUMN_NAME, DATA_TYPE FROM ALL_TAB_COLUMNS WHERE OWNER = :1 AND TABLE_NAME = :2 ORDER BY COLUMN_ID',
      [table.schema, table.table],
    );
    if (!r.rows?.length) throw Object.assign(new Error(`ORA-00942: table or view "${table.schema}"."${table.table}" does not exist`), { errorNum: 942 });
    kinds = new Map(r.rows.map(([c, t]) => [c, bindKindOf(t)]));
    columnKinds.set(key, kinds);
  }
  return kinds;
}

/** Forgets learned column types (after an error: the table may have changed). */
export function forgetOracleColumns(): void {
  columnKinds.clear();
}
