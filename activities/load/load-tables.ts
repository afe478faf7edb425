/**
 * The tables a load needs to know (target keys, weight): the spec's, plus tables that appeared
 * after `pipeline apply` (created by replayed DDL and matched by a regex rule), whose keys are read
 * from the target for each batch.
 */
import { ApplicationFailure } from '@temporalio/activity';
import type { Pool } from 'mysql2/promise';
import type { MysqlSourceConfig } from '../../lib/config/schema.js';
import type { LoadTable } from '../../lib/load-plan.js';
import type { RowChange } from '../../lib/model.js';
import type { PipelineSpec } from '../../lib/spec.js';

/** The primary and unique keys of the given tables, read from the target in one query. */
async function readKeys(pool: Pool, tables: readonly { schema: string; table: string }[]): Promise<Map<string, { primaryKey: string[]; uniqueKeys: string[][] }>> {
  const [idx] = await pool.query(
    `SELECT TABLE_SCHEMA AS s, TABLE_NAME AS t, INDEX_NAME AS i, COLUMN_NAME AS c FROM information_schema.STATISTICS
      WHERE (TABLE_SCHEMA, TABLE_NAME) IN (${tables.map(() => '(?, ?)').join(', ')}) AND NON_UNIQUE = 0
      ORDER BY TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX`,
    tables.flatMap((t) => [t.schema, t.table]),
  );
  const byTable = new Map<string, Map<string, string[]>>();
  for (const r of idx as { s: string; t: string; i: string; c: string }[]) {
    const name = `${r.s}.${r.t}`;
    const byIndex = byTable.get(name) ?? new Map<string, string[]>();
    byIndex.set(r.i, [...(byIndex.get(r.i) ?? []), r.c]);
    byTable.set(name, byIndex);
  }
  const out = new Map<string, { primaryKey: string[]; uniqueKeys: string[][] }>();
  for (const { schema, table } of tables) {
    const byIndex = new Map(byTable.get(`${schema}.${table}`) ?? []);
    const primaryKey = byIndex.get('PRIMARY') ?? [];
    byIndex.delete('PRIMARY');
    out.set(`${schema}.${table}`, { primaryKey, uniqueKeys: [...byIndex.values()] });
  }
  return out;
}

/**
 * `spec.tables`, plus an entry for every target table of `changes` the spec does not name. Their
 * keys are read from the target for every batch (one query), never cached: DDL that another
 * worker applied may have changed them since.
 */
export async function tablesForLoad(pool: Pool, target: MysqlSourceConfig, spec: PipelineSpec, changes: readonly RowChange[]): Promise<LoadTable[]> {
  const known = new Set(spec.tables.map((t) => `${t.target.schema}.${t.target.table}`));
  const extraTables = new Map<string, { schema: string; table: string }>();
  for (const c of changes) {
    const name = `${c.schema}.${c.table}`;
    if (!known.has(name) && !extraTables.has(name)) extraTables.set(name, { schema: c.schema, table: c.table });
  }
  if (extraTables.size === 0) return spec.tables as LoadTable[];
  const keys = await readKeys(pool, [...extraTables.values()]);
  const extra: LoadTable[] = [];
  for (const [name, t] of extraTables) {
    const k = keys.get(name)!;
    if (k.primaryKey.length === 0) {
      throw ApplicationFailure.nonRetryable(
        `target table ${name} (for a source table created after pipeline apply) on ${target.host}:${target.port} does not exist or has no primary key; ` +
          'create it on the target (or use ddl: apply) and resume the pipeline',
        'TargetRefused',
      );
    }
    // Weight orders tables inside a batch; a new table loads after the configured ones.
    extra.push({ target: t, ...k, weight: Number.MIN_SAFE_INTEGER });
  }
  return [...spec.tables, ...extra];
}
