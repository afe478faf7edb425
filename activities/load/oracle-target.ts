/**
 * `loadBatch` for an Oracle target: the same contract as the MySQL path in load-batch.ts. One
 * transaction applies the batch's MERGEs and DELETEs (`executeMany`, one bind row per table row)
 * and writes the pipeline's checkpoint row; loads take turns on that row's lock and check that
 * positions chain (lib/checkpoint-turn.ts), so every batch is applied exactly once, in order.
 */
import { ApplicationFailure, Context, log } from '@temporalio/activity';
import oracledb from 'oracledb';
import type { OracleSourceConfig } from '../../lib/config/schema.js';
import { decideTurn } from '../../lib/checkpoint-turn.js';
import { oracleDialect } from '../../lib/dialects/index.js';
import type { CompiledBatch } from '../../lib/dialects/dialect.js';
import { oracleBindRows, type OracleBindDef } from '../../lib/dialects/oracle/oracle-binds.js';
import { planLoad, type LoadStep } from '../../lib/load-plan.js';
import { formatPosition, type NumberedBatch } from '../../lib/model.js';
import { encodeValue } from '../../lib/values.js';
import type { Resources } from '../resources.js';
import { openStage } from '../stage/stage.js';
import { stagedAfterLoad, transformedChanges } from '../transform/transform-batch.js';
import { deadLetterPath, writeDeadLetters, type DeadLetter } from './dead-letter.js';
import type { LoadInput, LoadResult } from './load-batch.js';
import { classifyOracleError, isOracleRefused } from './oracle-errors.js';
import { planFailure } from './errors.js';
import { ensureOracleCheckpoint, forgetOracleColumns, oracleColumnKinds, oracleMetaSchema } from './oracle-meta.js';

const dialect = oracleDialect;

/** executeMany sends all bind rows at once; steps are cut so one round trip stays a few MiB. */
const MAX_STEP_BYTES = 4 * 1024 * 1024;

const DB_TYPES: Record<OracleBindDef['type'], oracledb.DbType> = {
  varchar: oracledb.DB_TYPE_VARCHAR,
  clob: oracledb.DB_TYPE_CLOB,
  raw: oracledb.DB_TYPE_RAW,
  blob: oracledb.DB_TYPE_BLOB,
  binary_double: oracledb.DB_TYPE_BINARY_DOUBLE,
};

export async function loadOracle(deps: { resources: Resources }, { spec, batch, transformed }: LoadInput): Promise<LoadResult> {
  const target = spec.target as OracleSourceConfig;
  const pool = await deps.resources.oraclePool(target, 2 + spec.batch.maxInFlight * 2);
  const stage = openStage(spec.stage);
  // Read and plan before taking the turn (the checkpoint lock is held only while writing). A
  // staged batch already removed is fine when the checkpoint shows the batch applied: the load
  // committed and its worker died before reporting so.
  const planned = await transformedChanges(stage, transformed).then(
    (changes) => {
      try {
        return { steps: planLoad(changes, spec.tables, { maxStatementBytes: MAX_STEP_BYTES, maxParams: dialect.capabilities.maxParams }) };
      } catch (err) {
        throw planFailure(err, batch.seq);
      }
    },
    (error: unknown) => ({ error }),
  );

  const conn = await pool.getConnection();
  let statement = '';
  let statements = 0;
  const refused: DeadLetter[] = [];
  let deadLetterFile: string | undefined;
  try {
    const metaSchema = await oracleMetaSchema(conn, target);
    await ensureOracleCheckpoint(conn, target, metaSchema, spec.id);
    const turn = await waitForTurn(conn, metaSchema, spec.id, batch);
    if (turn === 'done') {
      log.info('batch already applied (checkpoint covers it); skipping', { seq: batch.seq });
      return { rowsApplied: batch.rows, alreadyApplied: true, statements: 0, deadLettered: 0 };
    }
    if ('error' in planned) throw planned.error;
    for (const step of planned.steps) {
      const q = dialect.compiler.compileStep(step);
      if (q.kind !== 'batch') throw new Error('Oracle steps must compile to executeMany batches');
      statement = q.sql;
      await runStep(conn, target, step, q, spec.load.onError === 'skip' ? refused : undefined);
      statements++;
    }
    if (refused.length) {
      deadLetterFile = deadLetterPath(spec.stage, spec.id, batch.seq);
      await writeDeadLetters(deadLetterFile, refused);
      log.warn('rows refused by the target were dead-lettered', { seq: batch.seq, rows: refused.length, file: deadLetterFile });
    }
    const cp = dialect.compiler.compileCheckpointUpsert(metaSchema, { pipeline: spec.id, seq: batch.seq, position: formatPosition(batch.to), rows: batch.rows });
    statement = cp.sql;
    await conn.execute(cp.sql, cp.params as oracledb.BindParameters);
    await conn.commit();
  } catch (err) {
    forgetOracleColumns();
    await conn.rollback().catch(() => undefined);
    throw classifyOracleError(err, statement, batch.seq);
  } finally {
    await conn.close().catch(() => undefined);
  }
  void Promise.allSettled(stagedAfterLoad(spec, batch, transformed).map((ref) => stage.remove(ref))); // in the background, as load-batch.ts
  return { rowsApplied: batch.rows - refused.length, alreadyApplied: false, statements, deadLettered: refused.length, ...(deadLetterFile ? { deadLetterFile } : {}) };
}

/**
 * Binds a step by its target columns' types and runs it. With `refused` (onError: skip), rows the
 * target refuses are collected by executeMany's batchErrors while the other rows apply; any other
 * error, or without `refused`, fails the load.
 */
async function runStep(conn: oracledb.Connection, target: OracleSourceConfig, step: LoadStep, q: CompiledBatch, refused?: DeadLetter[]): Promise<void> {
  const kinds = await oracleColumnKinds(conn, target, step.table);
  const name = `${step.table.schema}.${step.table.table}`;
  // Binds in the statement's order (an UPDATE's SET columns come before its key).
  const { columns } = q;
  const missing = columns.filter((c) => !kinds.has(c));
  if (missing.length) throw Object.assign(new Error(`ORA-00904: target table ${name} has no column(s) ${missing.join(', ')}`), { errorNum: 904 });
  const { rows, defs } = oracleBindRows(columns.map((c) => kinds.get(c)!), columns, q.rows);
  const bindDefs = defs.map((d) => ({ type: DB_TYPES[d.type], ...(d.maxSize ? { maxSize: d.maxSize } : {}) }));
  const result = await conn.executeMany(q.sql, rows as oracledb.BindParameters[], { bindDefs, autoCommit: false, batchErrors: refused !== undefined });
  for (const e of result.batchErrors ?? []) {
    if (!refused || !isOracleRefused(e) || e.offset === undefined) throw e;
    const row = q.rows[e.offset];
    refused.push({
      table: name,
      kind: step.kind,
      row: Object.fromEntries(columns.map((c, i) => [c, encodeValue(row[i], c)])),
      errno: e.errorNum,
      error: e.message,
    });
  }
}

/** As in load-batch.ts: 'mine' inside a transaction holding the checkpoint row lock, or 'done'. */
async function waitForTurn(conn: oracledb.Connection, metaSchema: string, pipeline: string, batch: NumberedBatch): Promise<'mine' | 'done'> {
  const select = dialect.compiler.compileCheckpointSelect(metaSchema, pipeline);
  const ctx = Context.current();
  for (let waitMs = 2; ; waitMs = Math.min(waitMs * 2, 500)) {
    // Oracle opens the transaction with the locking SELECT; a rollback ends it.
    const r = await conn.execute<{ seq: number; position: string }>(select.sql, select.params as oracledb.BindParameters, { outFormat: oracledb.OUT_FORMAT_OBJECT });
    const t = decideTurn(r.rows?.[0], batch);
    if (t.turn === 'mine') return 'mine';
    await conn.rollback();
    if (t.turn === 'mismatch') throw ApplicationFailure.nonRetryable(t.message, 'PositionMismatch');
    if (t.turn === 'done') return 'done';
    await Promise.race([new Promise((res) => setTimeout(res, waitMs)), ctx.cancelled]);
  }
}
