/**
 * Which target errors are the data's fault (halt, or dead-letter when asked) and which are the
 * moment's (retry with backoff): a refused row must never be retried forever, and a lost
 * connection must never halt a pipeline.
 */
import { ApplicationFailure } from '@temporalio/activity';

/** MariaDB/MySQL errors that a retry cannot fix: the row, the statement or the schema is wrong. */
const REFUSED = new Map<number, string>([
  [1048, 'a NOT NULL column got NULL'],
  [1054, 'unknown column'],
  [1062, 'duplicate key'],
  [1064, 'SQL syntax'],
  [1110, 'column specified twice'],
  [1136, 'column count'],
  [1146, 'table does not exist'],
  [1264, 'value out of range'],
  [1265, 'data truncated'],
  [1292, 'wrong value'],
  [1366, 'wrong value for column'],
  [1406, 'value too long'],
  [1451, 'foreign key (referenced row)'],
  [1452, 'foreign key (missing parent)'],
  [1690, 'value out of range'],
  [3140, 'invalid JSON'],
  [4025, 'check constraint'],
]);

/**
 * A row without a column of its table's key as resolved at apply: the key changed since (a key
 * column renamed or dropped by DDL). No retry can plan the batch, so it halts, saying what to do.
 */
export function planFailure(err: unknown, seq: number): unknown {
  const message = (err as Error)?.message ?? '';
  if (!/lacks key column/.test(message)) return err;
  return ApplicationFailure.nonRetryable(
    `batch ${seq} cannot be planned: ${message}. The table's key changed since the pipeline was applied (a key column renamed or dropped); ` +
      'stop the pipeline and apply it again: it reads the keys anew and resumes at the checkpoint',
    'TransformFailed',
  );
}

/** True for errors that mean the target refuses the data (see REFUSED), not a passing fault. */
export function isRefused(err: unknown): boolean {
  const errno = (err as { errno?: number })?.errno;
  return errno !== undefined && REFUSED.has(errno);
}

/** Turns a driver error into a retryable error or a non-retryable `TargetRefused` failure. */
export function classifyMysqlError(err: unknown, statement: string, seq: number): Error {
  const e = err as { errno?: number; code?: string; sqlMessage?: string; message?: string };
  if (e instanceof ApplicationFailure) return e;
  const reason = e.errno !== undefined ? REFUSED.get(e.errno) : undefined;
  const message = e.sqlMessage ?? e.message ?? String(err);
  if (reason) {
    const shown = statement.length > 300 ? `${statement.slice(0, 300)}…` : statement;
    return ApplicationFailure.nonRetryable(
      `target refused batch ${seq} (${reason}): ${e.code ?? e.errno}: ${message} — in: ${shown}`,
      'TargetRefused',
      { errno: e.errno, code: e.code, statement: shown },
    );
  }
  return err instanceof Error ? err : new Error(message);
}
