/**
 * The load of a DDL batch. DDL is not transactional in MySQL/MariaDB (it commits implicitly), so
 * it cannot share a transaction with the checkpoint row. Instead, while holding the checkpoint
 * lock, the load first records "DDL of batch N started" in `<metaSchema>.seaotter_ddl` and commits
 * that; then runs the statement; then writes the checkpoint. A retry that finds its own marker
 * knows the statement may already have run (a crash between it and the checkpoint), and accepts
 * the errors that replaying a done statement gives (table exists, duplicate column, unknown
 * table…). Without a marker those errors are real and halt the pipeline. A statement that would
 * succeed again and undo itself (a swap) is not run again: the retry halts, saying what to do.
 *
 * The statement runs outside the checkpoint row's lock (the marker's commit released it), so the
 * pipeline's DDL lock, a named lock (GET_LOCK) of the load's session, is held from there until the
 * checkpoint is written. Under it the attempt looks again: a checkpoint already past the batch
 * (another attempt finished it) or a newer attempt's count on the marker (this one was given up
 * on, say after a pause longer than the heartbeat timeout) and the statement does not run. So a
 * stale attempt never runs its statement late, after later batches, where it could undo them
 * (a DROP COLUMN run again after the ADD COLUMN that followed it).
 */
import { createHash } from 'node:crypto';
import { ApplicationFailure, Context, log } from '@temporalio/activity';
import type { Pool, PoolConnection } from 'mysql2/promise';
import type { MysqlSourceConfig } from '../../lib/config/schema.js';
import type { SqlDialect } from '../../lib/dialects/index.js';
import { quoteIdent } from '../../lib/ddl/parse.js';
import { replayUndoes } from '../../lib/ddl/replay.js';
import { formatPosition, type NumberedBatch } from '../../lib/model.js';
import type { PipelineSpec } from '../../lib/spec.js';
import type { TargetDdl } from '../transform/ddl-transform.js';
import { peekCheckpoint } from './target-meta.js';

/** Errors a statement that already ran gives when run again. */
const ALREADY_DONE = new Map<number, string>([
  [1050, 'table already exists'],
  [1051, 'unknown table'],
  [1054, 'unknown column'],
  [1060, 'duplicate column'],
  [1061, 'duplicate key name'],
  [1091, 'cannot drop: column or key does not exist'],
  [1146, 'table does not exist'],
  [1176, 'key does not exist'],
]);

/** Server errors that are the moment's, not the statement's: retried. */
const PASSING = new Set([1040, 1053, 1205, 1213, 1927, 2006, 2013]);

const markerTable = (target: MysqlSourceConfig) => `${quoteIdent(target.metaSchema)}.seaotter_ddl`;
const ensured = new Set<string>();

async function ensureMarkerTable(pool: Pool, target: MysqlSourceConfig): Promise<void> {
  const key = `${target.host}:${target.port}/${target.metaSchema}`;
  if (ensured.has(key)) return;
  await pool.query(
    `CREATE TABLE IF NOT EXISTS ${markerTable(target)} (pipeline VARCHAR(190) NOT NULL, seq BIGINT NOT NULL, statement MEDIUMTEXT NOT NULL,` +
      ' attempts INT NOT NULL DEFAULT 1, started_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), PRIMARY KEY (pipeline, seq)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4',
  );
  ensured.add(key);
}

export interface DdlApplyInput {
  pool: Pool;
  /** In a transaction holding the pipeline's checkpoint row lock; it is this batch's turn. */
  conn: PoolConnection;
  dialect: SqlDialect;
  target: MysqlSourceConfig;
  spec: PipelineSpec;
  batch: NumberedBatch;
  ddl: TargetDdl;
}

/** Runs the batch's DDL and writes its checkpoint; returns whether the statement ran now. */
export async function applyDdl({ pool, conn, dialect, target, spec, batch, ddl }: DdlApplyInput): Promise<{ alreadyApplied: boolean }> {
  await ensureMarkerTable(pool, target);
  const retried = (await markerAttempts(conn, target, spec.id, batch.seq)) !== undefined;
  // Counted first, whatever this attempt then does: an older attempt still running gives way.
  await conn.query(
    `INSERT INTO ${markerTable(target)} (pipeline, seq, statement) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE attempts = attempts + 1`,
    [spec.id, batch.seq, ddl.statement],
  );
  const attempt = await markerAttempts(conn, target, spec.id, batch.seq);
  await conn.commit();

  const lock = ddlLockName(target.metaSchema, spec.id);
  const locked = await takeLock(conn, lock, batch.seq);
  try {
    return await underDdlLock({ conn, dialect, target, spec, batch, ddl }, retried, attempt);
  } finally {
    // On a broken connection the server has released it already.
    if (locked) await conn.query('SELECT RELEASE_LOCK(?)', [lock]).catch(() => undefined);
  }
}

/** The name of a pipeline's DDL lock on its target: at most 64 characters, as MySQL allows. */
export function ddlLockName(metaSchema: string, pipeline: string): string {
  return `seaotter-ddl-${createHash('sha1').update(`${metaSchema}\0${pipeline}`).digest('hex')}`;
}

async function markerAttempts(conn: PoolConnection, target: MysqlSourceConfig, pipeline: string, seq: number): Promise<number | undefined> {
  const [rows] = await conn.query(`SELECT attempts FROM ${markerTable(target)} WHERE pipeline = ? AND seq = ?`, [pipeline, seq]);
  const n = (rows as { attempts: number }[])[0]?.attempts;
  return n === undefined ? undefined : Number(n);
}

/**
 * Waits for the pipeline's DDL lock, for as long as the activity is not cancelled. False when the
 * server has no named locks (a Galera cluster refuses GET_LOCK): the load goes on without one, as
 * builds before the lock did, warned about.
 */
async function takeLock(conn: PoolConnection, lock: string, seq: number): Promise<boolean> {
  const ctx = Context.current();
  for (let waited = 0; ; waited += LOCK_WAIT_SECONDS) {
    let rows;
    try {
      [rows] = await conn.query('SELECT GET_LOCK(?, ?) AS got', [lock, LOCK_WAIT_SECONDS]);
    } catch (err) {
      if ((err as { errno?: number }).errno !== ER_NOT_SUPPORTED_YET) throw err;
      log.warn('the target has no named locks (GET_LOCK): the DDL runs without the pipeline\'s DDL lock', { seq, error: (err as Error).message });
      return false;
    }
    const got = (rows as { got: number | null }[])[0]?.got;
    if (Number(got) === 1) return true;
    if (got === null) throw new Error(`could not take the DDL lock ${lock} on the target`);
    // Cancelled (the batch was stopped or given up on): `cancelled` rejects with why.
    if (ctx.cancellationSignal.aborted) await ctx.cancelled;
    if (waited > 0 && waited % 60 === 0) log.warn('the DDL of this batch waits for another attempt of it to finish', { seq, waitedSeconds: waited, lock });
  }
}

const LOCK_WAIT_SECONDS = 5;
const ER_NOT_SUPPORTED_YET = 1235;

/** Runs the statement and writes the checkpoint, holding the pipeline's DDL lock. */
async function underDdlLock(
  { conn, dialect, target, spec, batch, ddl }: Omit<DdlApplyInput, 'pool'>,
  retried: boolean,
  attempt: number | undefined,
): Promise<{ alreadyApplied: boolean }> {
  // Another attempt may have run it all while this one waited, or have started after this one.
  if (await checkpointCovers(conn, dialect, target, spec.id, batch.seq)) return { alreadyApplied: true };
  const now = await markerAttempts(conn, target, spec.id, batch.seq);
  if (now !== attempt) {
    throw ApplicationFailure.retryable(
      `a newer attempt of the DDL load of batch ${batch.seq} has started (attempt ${now ?? 'none'} on its marker, this one ${attempt}): this one does not run the statement`,
      'SupersededAttempt',
    );
  }
  if (retried && replayUndoes(ddl.statement)) {
    // Run again it would succeed and undo itself, and whether it ran cannot be told from here.
    // (Any older attempt still running has given way: this one counted itself on the marker.)
    throw ApplicationFailure.nonRetryable(
      `the DDL of batch ${batch.seq} may have run before its load stopped, and running it again would undo it (it swaps names): ${ddl.statement.slice(0, 300)}. ` +
        'Look at the target: if it does not show the change yet, run the statement there yourself. Then stop the pipeline, apply it with ddl: skip ' +
        '(it resumes at the checkpoint and goes past this statement), and apply it with ddl: apply again',
      'TargetRefused',
      { statement: ddl.statement.slice(0, 500) },
    );
  }

  let alreadyApplied = false;
  try {
    await conn.query(ddl.statement);
    log.info('DDL applied', { seq: batch.seq, statement: ddl.statement.slice(0, 300) });
  } catch (err) {
    const e = err as { errno?: number; sqlState?: string; code?: string; sqlMessage?: string; message?: string };
    const done = e.errno !== undefined ? ALREADY_DONE.get(e.errno) : undefined;
    if (retried && done) {
      log.warn('DDL had already run before a retry; going on', { seq: batch.seq, error: done, statement: ddl.statement.slice(0, 300) });
      alreadyApplied = true;
    } else if (e.sqlState !== undefined && e.errno !== undefined && !PASSING.has(e.errno)) {
      // A first attempt the target refused did not run (a statement fails whole): its marker goes,
      // so that a resume without a fix halts again, rather than taking the refusal for a replay.
      if (!retried) await conn.query(`DELETE FROM ${markerTable(target)} WHERE pipeline = ? AND seq = ?`, [spec.id, batch.seq]).catch(() => undefined);
      throw ApplicationFailure.nonRetryable(
        `target refused the DDL of batch ${batch.seq}: ${e.code ?? e.errno}: ${e.sqlMessage ?? e.message} — in: ${ddl.statement.slice(0, 500)}`,
        'TargetRefused',
        { errno: e.errno, code: e.code, statement: ddl.statement.slice(0, 500) },
      );
    } else {
      throw err;
    }
  }

  // The checkpoint, under the row lock again: it is still this batch's turn, and no other attempt
  // can have written it while this one holds the DDL lock; looked at all the same.
  await conn.beginTransaction();
  const select = dialect.compiler.compileCheckpointSelect(target.metaSchema, spec.id);
  const [cp] = await conn.query(select.sql, select.params);
  const committed = Number((cp as { seq: string | number }[])[0]?.seq ?? 0);
  if (committed >= batch.seq) {
    await conn.rollback();
    return { alreadyApplied: true };
  }
  const write = dialect.compiler.compileCheckpointUpsert(target.metaSchema, { pipeline: spec.id, seq: batch.seq, position: formatPosition(batch.to), rows: 0 });
  await conn.query(write.sql, write.params);
  await conn.query(`DELETE FROM ${markerTable(target)} WHERE pipeline = ? AND seq < ?`, [spec.id, batch.seq]);
  await conn.commit();
  return { alreadyApplied };
}

/** True when the target's checkpoint is at `seq` or past it (read without locking). */
async function checkpointCovers(conn: PoolConnection, dialect: SqlDialect, target: MysqlSourceConfig, pipeline: string, seq: number): Promise<boolean> {
  return Number((await peekCheckpoint(conn, dialect, target.metaSchema, pipeline))?.seq ?? 0) >= seq;
}
