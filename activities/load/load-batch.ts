/**
 * `loadBatch`, at the target's datacenter: applies one batch in ONE target transaction together
 * with the pipeline's checkpoint row. The checkpoint is read first, under a row lock: a batch it
 * already covers is skipped, so a load retried after a crash (even one that crashed after its
 * commit) applies every batch exactly once.
 */
import { ApplicationFailure, CancelledFailure, Context, log } from '@temporalio/activity';
import type { Pool, PoolConnection } from 'mysql2/promise';
import type { MysqlSourceConfig } from '../../lib/config/schema.js';
import { dialectFor, type SqlDialect } from '../../lib/dialects/index.js';
import type { CompiledQuery } from '../../lib/dialects/dialect.js';
import { planLoad, type LoadStep, type LoadTable } from '../../lib/load-plan.js';
import { keepsBinlogOrder } from '../../lib/merge.js';
import { partitionSteps } from '../../lib/partition.js';
import { decideTurn } from '../../lib/checkpoint-turn.js';
import { formatPosition, type NumberedBatch, type RowChange } from '../../lib/model.js';
import type { PipelineSpec } from '../../lib/spec.js';
import type { Resources } from '../resources.js';
import { openStage } from '../stage/stage.js';
import { stagedAfterLoad, transformedChanges, type TransformResult } from '../transform/transform-batch.js';
import { ensureCheckpointTable, maxStatementBytes, peekCheckpoint } from './target-meta.js';
import { classifyMysqlError, planFailure } from './errors.js';
import { deadLetterPath, runStepSkippingRefused, writeDeadLetters, type DeadLetter } from './dead-letter.js';
import { withHeartbeat } from '../heartbeat.js';
import { errorType, recordCommitted, recordLoadFailure } from '../metrics.js';
import { loadOracle } from './oracle-target.js';
import { writeParts } from './parallel-load.js';
import { applyDdl } from './ddl-apply.js';
import { tablesForLoad } from './load-tables.js';

export interface LoadInput {
  spec: PipelineSpec;
  batch: NumberedBatch;
  transformed: TransformResult;
  /**
   * An earlier batch still in flight carries DDL: the target's tables may change before this
   * batch's turn, so it reads their keys and plans only then (see `plan` below).
   */
  afterDdl?: boolean;
}

export interface LoadResult {
  rowsApplied: number;
  alreadyApplied: boolean;
  statements: number;
  /** Rows the target refused and that went to `deadLetterFile` (`load.onError: skip`). */
  deadLettered: number;
  deadLetterFile?: string;
  /**
   * Where the load's time went, in ms: reading the stage, planning and compiling, waiting for the
   * previous batch's commit, writing the statements, committing. Shown in the batch's result.
   */
  timingsMs?: Record<string, number>;
  /** How the rows were written: one transaction, parts in parallel, or parts that conflicted and fell back. */
  writtenAs?: 'atomic' | 'parallel' | 'parallel, fell back to atomic';
}

/** Milliseconds per named phase, each measured from the end of the previous one. */
class PhaseClock {
  readonly laps: Record<string, number> = {};
  private last = performance.now();

  lap(name: string): void {
    const now = performance.now();
    this.laps[name] = Math.round(now - this.last);
    this.last = now;
  }
}

export function createLoadActivities(deps: { resources: Resources }) {
  return {
    async loadBatch(input: LoadInput): Promise<LoadResult> {
      const { metricMeter } = Context.current();
      try {
        const result = await withHeartbeat(() => load(deps, input));
        if (!result.alreadyApplied) recordCommitted(metricMeter, input.spec.id, input.batch, result);
        return result;
      } catch (err) {
        if (!(err instanceof CancelledFailure)) recordLoadFailure(metricMeter, input.spec.id, errorType(err));
        throw err;
      }
    },
  };
}

async function load(deps: { resources: Resources }, { spec, batch, transformed, afterDdl }: LoadInput): Promise<LoadResult> {
  if (spec.target.type === 'oracle') return loadOracle(deps, { spec, batch, transformed });
  if (spec.target.type !== 'mysql' && spec.target.type !== 'mariadb') {
    throw ApplicationFailure.nonRetryable(`a ${spec.target.type} data source cannot be a target`, 'TargetRefused');
  }
  const target: MysqlSourceConfig = spec.target;
  const dialect = dialectFor(target.type);
  // In parallel mode, parallelism connections of their own beside the one holding the turn.
  const parallel = spec.load.mode === 'parallel' && spec.load.parallelism > 1 && spec.load.onError === 'halt';
  const pool = deps.resources.mysqlPool(target, 2 + spec.batch.maxInFlight * 2 + (parallel ? spec.load.parallelism : 0));
  await ensureCheckpointTable(pool, target, dialect, spec.id);
  const budget = await maxStatementBytes(pool, target);
  const stage = openStage(spec.stage);

  // Read, plan and compile before taking the turn: the checkpoint lock is held only while writing.
  const clock = new PhaseClock();
  let changes: RowChange[];
  try {
    changes = await transformedChanges(stage, transformed);
  } catch (err) {
    if (!(err instanceof ApplicationFailure && err.type === 'StageCorrupt') || !(await alreadyCommitted(pool, dialect, target.metaSchema, spec.id, batch))) throw err;
    log.info('batch already applied (checkpoint covers it; its staged files are gone); skipping', { seq: batch.seq });
    return { rowsApplied: batch.rows, alreadyApplied: true, statements: 0, deadLettered: 0, timingsMs: clock.laps, writtenAs: 'atomic' };
  }
  clock.lap('read');
  const compile = (step: LoadStep): CompiledQuery => {
    const q = dialect.compiler.compileStep(step);
    if (q.kind !== 'query') throw new Error(`${dialect.name} steps must compile to multi-row statements`);
    return q;
  };
  let steps: LoadStep[] = [];
  let partQueries: CompiledQuery[][] | undefined;
  let queries: CompiledQuery[] | undefined;
  const plan = async () => {
    const tables = await tablesForLoad(pool, target, spec, changes);
    try {
      steps = planLoad(changes, tables, { maxStatementBytes: budget });
    } catch (err) {
      throw planFailure(err, batch.seq);
    }
    // A table loaded in binlog order (a unique key besides the primary key) is not safe to apply
    // twice: its changes replayed over their own result can collide on that key or leave other
    // values. A parallel load re-applies a batch (after a conflict between parts, or a crash
    // before the checkpoint), so a batch that touches such a table loads in one transaction.
    const inParts = parallel && !steps.some(inBinlogOrder(tables));
    partQueries = inParts ? partitionSteps(steps, spec.load.parallelism).map((p) => p.map(compile)) : undefined;
    queries = inParts ? undefined : steps.map(compile);
  };
  // Behind a DDL batch the target's tables may still change (a CREATE, RENAME or new key), so
  // the batch reads their keys and plans once it has its turn, when every earlier batch is in.
  // Otherwise it plans now; a table missing now is looked for again at its turn (batches of runs
  // started before `afterDdl` existed lack it), and only a table still missing then is refused.
  let planned = !afterDdl;
  if (planned) {
    try {
      await plan();
    } catch (err) {
      if (!(err instanceof ApplicationFailure && err.type === 'TargetRefused')) throw err;
      planned = false;
    }
  }
  clock.lap('plan');
  const conn = await pool.getConnection();
  let statement = '';
  let statements = 0;
  const refused: DeadLetter[] = [];
  let deadLetterFile: string | undefined;
  let writtenAs: LoadResult['writtenAs'] = 'atomic';
  try {
    // Loads commit strictly in seq order: each one locks the pipeline's checkpoint row and goes
    // ahead only when the row says the previous batch is in. The lock hands over at commit, so
    // batches chain at database speed; one that is early waits (and backs off) for its turn.
    const turn = await waitForTurn(conn, dialect, target.metaSchema, spec.id, batch);
    clock.lap('wait');
    if (turn === 'done') {
      log.info('batch already applied (checkpoint covers it); skipping', { seq: batch.seq });
      return { rowsApplied: batch.rows, alreadyApplied: true, statements: 0, deadLettered: 0, timingsMs: clock.laps, writtenAs: 'atomic' };
    }
    if (!planned) await plan();
    if (transformed.ddl) {
      statement = transformed.ddl.statement;
      const r = await applyDdl({ pool, conn, dialect, target, spec, batch, ddl: transformed.ddl });
      wakeWaiters(spec.id);
      await Promise.allSettled(stagedAfterLoad(spec, batch, transformed).map((ref) => stage.remove(ref)));
      return { rowsApplied: 0, alreadyApplied: r.alreadyApplied, statements: 1, deadLettered: 0, timingsMs: clock.laps, writtenAs: 'atomic' };
    }
    if (partQueries) {
      // The turn's connection holds the checkpoint row, idle while the parts are written: a ping
      // a minute keeps the server's idle limit (wait_timeout) from ending it under a long load.
      const ping = setInterval(() => void conn.query('SELECT 1').catch(() => undefined), 60_000);
      let outcome;
      try {
        outcome = await writeParts(pool, partQueries, (sql) => void (statement = sql));
      } finally {
        clearInterval(ping);
      }
      if (outcome.kind === 'written') {
        statements = outcome.statements;
        writtenAs = 'parallel';
      } else {
        log.warn('parallel load parts conflicted; the batch falls back to one atomic transaction', { seq: batch.seq, error: (outcome.error as Error)?.message ?? String(outcome.error) });
        queries = steps.map(compile); // one atomic transaction re-applies the whole batch
        writtenAs = 'parallel, fell back to atomic';
      }
    }
    for (const [i, q] of (queries ?? []).entries()) {
      statement = q.sql;
      if (spec.load.onError === 'skip') await runStepSkippingRefused(conn, dialect, steps[i], refused);
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
    clock.lap('write');
    await conn.commit();
    wakeWaiters(spec.id);
    clock.lap('commit');
  } catch (err) {
    await rollbackQuietly(conn);
    throw classifyMysqlError(err, statement, batch.seq);
  } finally {
    conn.release();
  }
  // The batch is durable on the target; its staged files are no longer needed by anyone. They go
  // in the background: across datacenters each removal is a round trip, and the batch's result
  // (and its in-flight slot) need not wait for it. A removal lost to a crash leaves a file only.
  void Promise.allSettled(stagedAfterLoad(spec, batch, transformed).map((ref) => stage.remove(ref)));
  return {
    rowsApplied: batch.rows - refused.length,
    alreadyApplied: false,
    statements,
    deadLettered: refused.length,
    ...(deadLetterFile ? { deadLetterFile } : {}),
    timingsMs: clock.laps,
    writtenAs,
  };
}

/** Steps of target tables that load in binlog order (other unique keys): never split across parts. */
function inBinlogOrder(tables: readonly LoadTable[]): (step: LoadStep) => boolean {
  const whole = new Set(tables.filter(keepsBinlogOrder).map((t) => `${t.target.schema}.${t.target.table}`));
  return (step) => whole.has(`${step.table.schema}.${step.table.table}`);
}

/**
 * Loads of one pipeline waiting for their turn in this process, woken the moment a load commits
 * so the next batch starts at once; loads in other processes see it on their next poll.
 */
const turnWaiters = new Map<string, Set<() => void>>();

function wakeWaiters(pipeline: string): void {
  const waiters = turnWaiters.get(pipeline);
  if (!waiters) return;
  turnWaiters.delete(pipeline);
  for (const wake of waiters) wake();
}

/** Sleeps up to `ms`, less when a load of `pipeline` in this process commits first. */
function sleepUntilWoken(pipeline: string, ms: number, cancelled: Promise<unknown>): Promise<unknown> {
  let wake!: () => void;
  let timer: NodeJS.Timeout | undefined;
  const woken = new Promise<void>((resolve) => {
    wake = resolve;
    timer = setTimeout(resolve, ms);
  });
  let waiters = turnWaiters.get(pipeline);
  if (!waiters) turnWaiters.set(pipeline, (waiters = new Set()));
  waiters.add(wake);
  return Promise.race([woken, cancelled]).finally(() => {
    clearTimeout(timer);
    turnWaiters.get(pipeline)?.delete(wake);
  });
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
  // A batch that is early polls (the previous load may not have taken the lock yet): woken at
  // once by a commit in this process, otherwise backing off to at most 50 ms.
  for (let waitMs = 2; ; waitMs = Math.min(waitMs * 2, 50)) {
    await conn.beginTransaction();
    const [rows] = await conn.query(select.sql, select.params);
    const t = decideTurn((rows as { seq: string | number; position: string }[])[0], batch);
    if (t.turn === 'mine') return 'mine';
    await conn.rollback();
    if (t.turn === 'mismatch') throw ApplicationFailure.nonRetryable(t.message, 'PositionMismatch');
    if (t.turn === 'done') return 'done';
    await sleepUntilWoken(pipeline, waitMs, ctx.cancelled);
  }
}

/**
 * True when the target's checkpoint already covers `batch`: a load retried after its commit
 * (the worker died before reporting) finds its staged files removed, and must not halt for it.
 */
async function alreadyCommitted(pool: Pool, dialect: SqlDialect, metaSchema: string, pipeline: string, batch: NumberedBatch): Promise<boolean> {
  return decideTurn(await peekCheckpoint(pool, dialect, metaSchema, pipeline), batch).turn === 'done';
}

async function rollbackQuietly(conn: PoolConnection): Promise<void> {
  try {
    await conn.rollback();
  } catch {
    // The connection may be gone; the server rolls back on disconnect.
  }
}
