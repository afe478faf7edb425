/**
 * Per-target facts a worker learns once: the checkpoint table exists, and how large a statement
 * may be (under the server's max_allowed_packet).
 */
import type { Pool, PoolConnection } from 'mysql2/promise';
import type { MysqlSourceConfig } from '../../lib/config/schema.js';
import type { SqlDialect } from '../../lib/dialects/dialect.js';

const ensured = new Set<string>();
const budgets = new Map<string, number>();
const keyOf = (t: MysqlSourceConfig) => `${t.host}:${t.port}/${t.metaSchema}`;

/** Statements stay well under max_allowed_packet, and under 8 MiB so one never stalls a link. */
export async function maxStatementBytes(pool: Pool, target: MysqlSourceConfig): Promise<number> {
  const key = keyOf(target);
  let budget = budgets.get(key);
  if (budget === undefined) {
    const [rows] = await pool.query('SELECT @@max_allowed_packet AS m');
    budget = Math.min(Math.floor(Number((rows as { m: string }[])[0].m) * 0.75), 8 * 1024 * 1024);
    budgets.set(key, budget);
  }
  return budget;
}

/**
 * Creates the meta schema, the checkpoint table and the pipeline's row (seq 0: nothing applied
 * yet) on first use. The row must exist before any load: loads take turns on its lock.
 */
export async function ensureCheckpointTable(pool: Pool, target: MysqlSourceConfig, dialect: SqlDialect, pipeline: string): Promise<void> {
  const key = `${keyOf(target)}/${pipeline}`;
  if (ensured.has(key)) return;
  await pool.query(`CREATE DATABASE IF NOT EXISTS \`${target.metaSchema.replace(/`/g, '``')}\``);
  await pool.query(dialect.compiler.compileCheckpointTableDdl(target.metaSchema).sql);
  await pool.query(`INSERT IGNORE INTO \`${target.metaSchema.replace(/`/g, '``')}\`.seaotter_checkpoint (pipeline, seq, position) VALUES (?, 0, '')`, [pipeline]);
  ensured.add(key);
}

/** The pipeline's checkpoint row as it is now, read without taking its lock. */
export async function peekCheckpoint(
  q: Pool | PoolConnection,
  dialect: SqlDialect,
  metaSchema: string,
  pipeline: string,
): Promise<{ seq: string | number; position: string } | undefined> {
  const select = dialect.compiler.compileCheckpointSelect(metaSchema, pipeline);
  const [rows] = await q.query(select.sql.replace(/\s+FOR UPDATE\s*$/i, ''), select.params);
  return (rows as { seq: string | number; position: string }[])[0];
}
