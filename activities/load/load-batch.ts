/**
 * `loadBatch`, at the target's datacenter: applies one batch in ONE target transaction together
 * with the pipeline's checkpoint row. The checkpoint is read first, under a row lock: a batch it
 * already covers is skipped, so a load retried after a crash (even one that crashed after its
 * commit) applies every batch exactly once.
 */
import { ApplicationFailure, Context, log } from '@temporalio/activity';
import type { PoolConnection } from 'mysql2/promise';
import type { MysqlSourceConfig } from '../../lib/config/schema.js';
import { dialectFor, type SqlDialect } from '../../lib/dialects/index.js';
import { planLoad } from '../../lib/load-plan.js';
import { formatPosition, parsePosition, type BinlogPosition, type NumberedBatch } from '../../lib/model.js';
import type { PipelineSpec } from '../../lib/spec.js';
import type { Resources } from '../resources.js';
import { openStage } from '../stage/stage.js';
import type { TransformResult } from '../transform/transform-batch.js';
import { ensureCheckpointTable, maxStatementBytes } from './target-meta.js';
import { classifyMysqlError } from './errors.js';
import { deadLetterPath, runStepSkippingRefused, writeDeadLetters, type DeadLetter } from './dead-letter.js';
import { withHeartbeat } from '../heartbeat.js';
import { applyDdl } from './ddl-apply.js';
import { tablesForLoad } from './load-tables.js';

export interface LoadInput {
  spec: PipelineSpec;
  batch: NumberedBatch;
  transformed: TransformResult;
}

export interface LoadResult {
  rowsApplied: number;
  alreadyApplied: boolean;
  statements: number;
  /** Rows the target refused and that went to `deadLetterFile` (`load.onError: skip`). */
  deadLettered: number;
  deadLetterFile?: string;
}

export function createLoadActivities(deps: { resources: Resources }) {
  return {
    loadBatch(input: LoadInput): Promise<LoadResult> {
      return withHeartbeat(() => load(deps, input));
    },
  };
}

async function load(deps: { resources: Resources }, { spec, batch, transformed }: LoadInput): Promise<LoadResult> {
  if (spec.target.type === 'oracle') {
    throw ApplicationFailure.nonRetryable('the Oracle target is not supported by this build yet', 'TargetRefused');
  }
  if (spec.target.type !== 'mysql' && spec.target.type !== 'mariadb') {
    throw ApplicationFailure.nonRetryable(`a ${spec.target.type} data source cannot be a target`, 'TargetRefused');
  }
  const target: MysqlSourceConfig = spec.target;
  const dialect = dialectFor(target.type);
  const pool = deps.resources.mysqlPool(target, 2 + spec.batch.maxInFlight * 2);
  await ensureCheckpointTable(pool, target, dialect, spec.id);
  const budget = await maxStatementBytes(pool, target);
  const stage = openStage(spec.stage);

  // Read and plan before taking the turn: the checkpoint lock is held only while writing.
  const changes = await stage.getChanges(transformed.ref);
  const steps = planLoad(changes, await tablesForLoad(pool, target, spec, changes), { maxStatementBytes: budget });
  const conn = await pool.getConnection();
  let statement = '';
  let statements = 0;
  const refused: DeadLetter[] = [];
  let deadLetterFile: string | undefined;
  try {
    // Loads commit strictly in seq order: each one locks the pipeline's checkpoint row and goes
    // ahead only when the row says the previous batch is in. The lock hands over at commit, so
    // batches chain at database speed; one that is early waits (and backs off) for its turn.
    const turn = await waitForTurn(conn, dialect, target.metaSchema, spec.id, batch);
    if (turn === 'done') {
      log.info('batch already applied (checkpoint covers it); skipping', { seq: batch.seq });
      return { rowsApplied: batch.rows, alreadyApplied: true, statements: 0, deadLettered: 0 };
    }
    if (transformed.ddl) {
      statement = transformed.ddl.statement;
      const r = await applyDdl({ pool, conn, dialect, target, spec, batch, ddl: transformed.ddl });
      await Promise.allSettled([stage.remove(batch.ref), stage.remove(transformed.ref)]);
      return { rowsApplied: 0, alreadyApplied: r.alreadyApplied, statements: 1, deadLettered: 0 };
    }
    for (const step of steps) {
      const q = dialect.compiler.compileStep(step);
      if (q.kind !== 'query') throw new Error(`${dialect.name} steps must compile to multi-row statements`);
      statement = q.sql;
      if (spec.load.onError === 'skip') await runStepSkippingRefused(conn, dialect, step, refused);
      else await conn.query(q.sql, q.params);
      statements++;
    }
    if (refused.length) {
      deadLetterFile = deadLetterPath(spec.stage, spec.id, batch.seq);
      await writeDeadLetters(deadLetterFile, refused);
      log.warn('rows refused by the target were dead-lettered', { seq: batch.seq, rows: refused.length, file: deadLetterFile });
    }
    const cp = dialect.compiler.compileCheckpointUpsert(target.metaSchema, {
      pipeline: spec.id,
      seq: batch.seq,
      position: formatPosition(batch.to),
      rows: batch.rows,
    });
    statement = cp.sql;
    await conn.query(cp.sql, cp.params);
    await conn.commit();
  } catch (err) {
    await rollbackQuietly(conn);
    throw classifyMysqlError(err, statement, batch.seq);
  } finally {
    conn.release();
  }
  // The batch is durable on the target; its staged files are no longer needed by anyone.
  await Promise.allSettled([stage.remove(batch.ref), stage.remove(transformed.ref)]);
  return { rowsApplied: batch.rows - refused.length, alreadyApplied: false, statements, deadLettered: refused.length, ...(deadLetterFile ? { deadLetterFile } : {}) };
}

/**
 * Returns 'mine' inside an open transaction holding the checkpoint row lock when `batch` is next,
 * or 'done' (no transaction) when the checkpoint already covers it. The checkpoint's position
 * must match too (this batch starts where the last one ended; an applied one ended at its `to`):
 * a batch that does not chain, say after a pipeline was replaced while an old load still ran,
 * halts the pipeline instead of being skipped or applied twice.
 */
async function waitForTurn(conn: PoolConnection, dialect: SqlDialect, metaSchema: string, pipeline: string, batch: NumberedBatch): Promise<'mine' | 'done'> {
  const select = dialect.compiler.compileCheckpointSelect(metaSchema, pipeline);
  const ctx = Context.current();
  for (let waitMs = 2; ; waitMs = Math.min(waitMs * 2, 500)) {
    await conn.beginTransaction();
    const [rows] = await conn.query(select.sql, select.params);
    const row = (rows as { seq: string | number; position: string }[])[0];
    const committed = Number(row?.seq ?? 0);
    if (committed === batch.seq - 1) {
      if (committed > 0 && !samePlace(row.position, batch.from)) throw mismatch(batch, committed, row.position, 'start');
      return 'mine';
    }
    await conn.rollback();
    if (committed === batch.seq && !samePlace(row.position, batch.to)) throw mismatch(batch, committed, row.position, 'end');
    if (committed >= batch.seq) return 'done';
    await Promise.race([new Promise((r) => setTimeout(r, waitMs)), ctx.cancelled]);
  }
}

function samePlace(stored: string, p: BinlogPosition): boolean {
  if (p.file === undefined || p.pos === undefined) return true;
  const s = parsePosition(stored);
  return s.file === p.file && s.pos === p.pos;
}

function mismatch(batch: NumberedBatch, seq: number, stored: string, which: 'start' | 'end'): ApplicationFailure {
  return ApplicationFailure.nonRetryable(
    `batch ${batch.seq} does not chain with the target's checkpoint (batch ${seq} at ${stored}; this batch ${which}s at ${formatPosition(which === 'start' ? batch.from : batch.to)}); ` +
      'stop the pipeline and apply it again with --replace to restart from the checkpoint',
    'PositionMismatch',
  );
}

async function rollbackQuietly(conn: PoolConnection): Promise<void> {
  try {
    await conn.rollback();
  } catch {
    // The connection may be gone; the server rolls back on disconnect.
  }
}
