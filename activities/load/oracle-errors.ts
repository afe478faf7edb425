/**
 * Oracle's side of errors.ts: ORA- errors that mean the target refuses the row, the statement or
 * the schema halt the pipeline (or dead-letter the row with `load.onError: skip`); everything
 * else (lost connections, ORA-00060 deadlocks, ORA-03113…, the driver's NJS-5xx network errors)
 * is retried with backoff.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { BindError } from '../../lib/dialects/oracle/oracle-binds.js';

/** ORA- numbers a retry cannot fix. */
const REFUSED = new Map<number, string>([
  [1, 'duplicate key (unique constraint)'],
  [904, 'unknown column'],
  [932, 'inconsistent data types'],
  [942, 'table does not exist'],
  [1031, 'insufficient privileges'],
  [1400, 'a NOT NULL column got NULL'],
  [1407, 'a NOT NULL column updated to NULL'],
  [1438, 'value larger than the column precision'],
  [1461, 'value too long for its bind'],
  [1722, 'invalid number'],
  [1830, 'date format'],
  [1841, 'year out of range'],
  [1843, 'invalid month'],
  [1847, 'day of month out of range'],
  [1858, 'non-numeric character in a date'],
  [1861, 'literal does not match the date format'],
  [2290, 'check constraint'],
  [2291, 'foreign key (missing parent)'],
  [2292, 'foreign key (child rows exist)'],
  [12899, 'value too large for column'],
  [22835, 'value too large for the conversion'],
  [40441, 'invalid JSON'],
]);

interface OracleErrorLike {
  errorNum?: number;
  code?: string;
  message?: string;
}

/** Why the target refuses the data, or undefined when the error is a passing fault. */
export function oracleRefusal(err: unknown): string | undefined {
  if (err instanceof BindError) return 'value cannot be bound';
  const e = err as OracleErrorLike | null;
  return e?.errorNum !== undefined ? REFUSED.get(e.errorNum) : undefined;
}

export function isOracleRefused(err: unknown): boolean {
  return oracleRefusal(err) !== undefined;
}

/** Turns a driver error into a retryable error or a non-retryable `TargetRefused` failure. */
export function classifyOracleError(err: unknown, statement: string, seq: number): Error {
  if (err instanceof ApplicationFailure) return err;
  const e = err as OracleErrorLike;
  const message = e?.message ?? String(err);
  const reason = oracleRefusal(err);
  if (reason) {
    const shown = statement.length > 300 ? `${statement.slice(0, 300)}…` : statement;
    return ApplicationFailure.nonRetryable(`target refused batch ${seq} (${reason}): ${message} — in: ${shown}`, 'TargetRefused', {
      errno: e.errorNum,
      code: e.code,
      statement: shown,
    });
  }
  return err instanceof Error ? err : new Error(message);
}
