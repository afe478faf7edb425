/**
 * `load.mode: parallel`: a batch's rows, split by primary-key hash (lib/partition.ts), are written
 * by several connections at once, each part in its own transaction, while the load's own
 * connection holds the checkpoint row (the batch's turn). The checkpoint commits only after every
 * part has. Parts are idempotent (final row images by key, deletes by key), so a crash between a
 * part's commit and the checkpoint's re-applies the batch to the same end state.
 *
 * Parts can still collide where the hash cannot see it (a foreign key between tables, a
 * deadlock on a secondary index): those errors make the whole batch fall back to one atomic
 * transaction on the turn's connection, which re-applies it in plan order.
 */
import type { Pool, PoolConnection } from 'mysql2/promise';
import type { CompiledQuery } from '../../lib/dialects/dialect.js';

/** Errors that mean parts got in each other's way, not that the data is wrong. */
const CONFLICTS = new Set([
  1205, // lock wait timeout
  1213, // deadlock
  1451, // foreign key: a child in another part not yet deleted
  1452, // foreign key: a parent in another part not yet written
  1062, // duplicate key on a unique index whose rows landed in different parts
]);

/** How long a part waits for a row lock before it gives up (and the batch falls back). */
const PART_LOCK_WAIT_S = 5;

export type PartsOutcome = { kind: 'written'; statements: number } | { kind: 'conflict'; error: unknown };

/**
 * Writes every part on its own pooled connection. Returns 'conflict' (after every part ended,
 * committed or rolled back) when any part hit a conflict; throws the first other error.
 */
export async function writeParts(pool: Pool, parts: readonly (readonly CompiledQuery[])[], onStatement: (sql: string) => void): Promise<PartsOutcome> {
  const results = await Promise.allSettled(parts.filter((p) => p.length > 0).map((part) => writePart(pool, part, onStatement)));
  const errors = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  const other = errors.find((e) => !CONFLICTS.has((e as { errno?: number }).errno ?? -1));
  if (other !== undefined) throw other;
  if (errors.length > 0) return { kind: 'conflict', error: errors[0] };
  return { kind: 'written', statements: results.reduce((n, r) => n + (r.status === 'fulfilled' ? r.value : 0), 0) };
}

async function writePart(pool: Pool, part: readonly CompiledQuery[], onStatement: (sql: string) => void): Promise<number> {
  const conn: PoolConnection = await pool.getConnection();
  try {
    await conn.query(`SET SESSION innodb_lock_wait_timeout = ${PART_LOCK_WAIT_S}`);
    await conn.beginTransaction();
    for (const q of part) {
      onStatement(q.sql);
      await conn.query(q.sql, q.params);
    }
    await conn.commit();
    return part.length;
  } catch (err) {
    await conn.rollback().catch(() => undefined);
    throw err;
  } finally {
    // The connection goes back to the pool, where serial loads keep the server's lock wait.
    await conn.query('SET SESSION innodb_lock_wait_timeout = DEFAULT').catch(() => undefined);
    conn.release();
  }
}
