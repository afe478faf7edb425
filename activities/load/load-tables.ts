/**
 * The tables a load needs to know (target keys, weight): the spec's, plus tables that appeared
 * after `pipeline apply` (created by replayed DDL and matched by a regex rule), whose keys are read
 * from the target once per worker and forgotten when DDL changes the table.
 */
import { ApplicationFailure } from '@temporalio/activity';
import type { Pool } from 'mysql2/promise';
import type { MysqlSourceConfig } from '../../lib/config/schema.js';
import type { LoadTable } from '../../lib/load-plan.js';
import type { RowChange } from '../../lib/model.js';
import type { PipelineSpec } from '../../lib/spec.js';

const keys = new Map<string, { primaryKey: string[]; uniqueKeys: string[][] }>();
const keyOf = (target: MysqlSourceConfig, table: string) => `${target.host}:${target.port}/${table}`;

/** Drops what this worker learned of a table's keys (DDL changed or removed it). */
export function forgetTableKeys(target: MysqlSourceConfig, table: string): void {
  keys.delete(keyOf(target, table));
}

/** Forgets the keys of the tables of `changes` the spec does not name (they are read again). */
export function forgetNewTableKeys(target: MysqlSourceConfig, spec: PipelineSpec, changes: readonly RowChange[]): void {
  const known = new Set(spec.tables.map((t) => `${t.target.schema}.${t.target.table}`));
  for (const name of new Set(changes.map((c) => `${c.schema}.${c.table}`))) if (!known.has(name)) forgetTableKeys(target, name);
}

async function readKeys(pool: Pool, schema: string, table: string): Promise<{ primaryKey: string[]; uniqueKeys: string[][] }> {
  const [idx] = await pool.query(
    `SELECT INDEX_NAME AS i, COLUMN_NAME AS c FROM information_schema.STATISTICS
      WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND NON_UNIQUE = 0 ORDER BY INDEX_NAME, SEQ_IN_INDEX`,
    [schema, table],
  );
  const byIndex = new Map<string, string[]>();
  for (const r of idx as { i: string; c: string }[]) byIndex.set(r.i, [...(byIndex.get(r.i) ?? []), r.c]);
  const primaryKey = byIndex.get('PRIMARY') ?? [];
  byIndex.delete('PRIMARY');
  return { primaryKey, uniqueKeys: [...byIndex.values()] };
}

/** `spec.tables`, plus an entry for every target table of `changes` the spec does not name. */
export async function tablesForLoad(pool: Pool, target: MysqlSourceConfig, spec: PipelineSpec, changes: readonly RowChange[]): Promise<LoadTable[]> {
  const known = new Set(spec.tables.map((t) => `${t.target.schema}.${t.target.table}`));
  let extra: LoadTable[] | undefined;
  const seen = new Set<string>();
  for (const c of changes) {
    const name = `${c.schema}.${c.table}`;
    if (known.has(name) || seen.has(name)) continue;
    seen.add(name);
    let k = keys.get(keyOf(target, name));
    if (!k) {
      k = await readKeys(pool, c.schema, c.table);
      if (k.primaryKey.length === 0) {
        // Not cached: the operator may create the table or its key and resume.
        throw ApplicationFailure.nonRetryable(
          `target table ${name} (for a source table created after pipeline apply) does not exist or has no primary key; ` +
            'create it on the target (or use ddl: apply) and resume the pipeline',
          'TargetRefused',
        );
      }
      keys.set(keyOf(target, name), k);
    }
    // Weight orders tables inside a batch; a new table loads after the configured ones.
    (extra ??= []).push({ target: { schema: c.schema, table: c.table }, ...k, weight: Number.MIN_SAFE_INTEGER });
  }
  return extra ? [...spec.tables, ...extra] : (spec.tables as LoadTable[]);
}
