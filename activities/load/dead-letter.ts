/**
 * `load.onError: skip`: a statement the target refuses is retried row by row inside the batch's
 * transaction (each row behind a savepoint); rows still refused are written to a dead-letter file
 * and counted, the rest of the batch commits with its checkpoint. Nothing is dropped unseen.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { PoolConnection } from 'mysql2/promise';
import type { SqlDialect } from '../../lib/dialects/index.js';
import type { LoadStep } from '../../lib/load-plan.js';
import type { StageConfig } from '../../lib/config/schema.js';
import { encodeValue } from '../../lib/values.js';
import { isRefused } from './errors.js';

/** One row the target refused, as written to the dead-letter file (one JSON object per line). */
export interface DeadLetter {
  table: string;
  kind: LoadStep['kind'];
  row: Record<string, unknown>;
  errno?: number;
  error: string;
}

async function run(conn: PoolConnection, dialect: SqlDialect, step: LoadStep): Promise<void> {
  const q = dialect.compiler.compileStep(step);
  if (q.kind !== 'query') throw new Error(`${dialect.name} steps must compile to multi-row statements`);
  await conn.query(q.sql, q.params);
}

/** Runs a step; on a refusal, re-runs it row by row and collects the rows still refused. */
export async function runStepSkippingRefused(conn: PoolConnection, dialect: SqlDialect, step: LoadStep, refused: DeadLetter[]): Promise<void> {
  await conn.query('SAVEPOINT seaotter_step');
  try {
    await run(conn, dialect, step);
    return;
  } catch (err) {
    if (!isRefused(err)) throw err;
    await conn.query('ROLLBACK TO SAVEPOINT seaotter_step');
  }
  for (const row of step.rows) {
    await conn.query('SAVEPOINT seaotter_row');
    try {
      await run(conn, dialect, { ...step, rows: [row] });
    } catch (err) {
      if (!isRefused(err)) throw err;
      await conn.query('ROLLBACK TO SAVEPOINT seaotter_row');
      const e = err as { errno?: number; sqlMessage?: string; message?: string };
      refused.push({
        table: `${step.table.schema}.${step.table.table}`,
        kind: step.kind,
        row: Object.fromEntries(step.columns.map((c, i) => [c, encodeValue(row[i], c)])),
        errno: e.errno,
        error: e.sqlMessage ?? e.message ?? String(err),
      });
    }
  }
}

/** Where a batch's refused rows go: `<stage dir>/<pipeline>/dead-letter/batch-<seq>.jsonl`. */
export function deadLetterPath(stage: StageConfig, pipeline: string, seq: number): string {
  if (stage.type !== 'local') throw new Error('dead-lettering needs a local stage in this build');
  return join(stage.dir, pipeline, 'dead-letter', `batch-${seq}.jsonl`);
}

/** Written before the batch commits (a retry rewrites the same file), so a count never lacks its rows. */
export async function writeDeadLetters(path: string, rows: DeadLetter[]): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
}
