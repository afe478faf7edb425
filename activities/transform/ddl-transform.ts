/**
 * The transform of a DDL batch: with `ddl: apply`, the statement with the table mapping applied,
 * for the load to run; with `ddl: skip`, nothing (the batch only moves the checkpoint). A statement
 * that cannot be mapped halts the pipeline with the statement in the error.
 */
import { ApplicationFailure, log } from '@temporalio/activity';
import { planDdl } from '../../lib/ddl/plan.js';
import type { CapturedDdl } from '../../lib/model.js';
import type { PipelineSpec } from '../../lib/spec.js';
import { ddlContext } from '../capture/ddl-filter.js';

/** A DDL statement ready for the target. */
export interface TargetDdl {
  /** As captured on the source. */
  source: string;
  /** Rewritten with the target's schema and table names. */
  statement: string;
  /** Target tables it changes (`schema.table`). */
  targets: string[];
}

/** The statement to run on the target, or null when it is skipped or not about mapped tables. */
export function transformDdl(spec: PipelineSpec, seq: number, ddl: CapturedDdl): TargetDdl | null {
  if (spec.ddl === 'skip') {
    log.warn('DDL on a mapped table skipped (ddl: skip); the target keeps its schema', { seq, statement: shorten(ddl.statement) });
    return null;
  }
  const plan = planDdl(ddl.statement, ddl.schema, ddlContext(spec));
  if (plan.action === 'ignore') return null;
  if (plan.action === 'halt') {
    throw ApplicationFailure.nonRetryable(`DDL of batch ${seq} cannot be replayed on the target: ${plan.reason} — statement: ${shorten(ddl.statement)}`, 'TransformFailed');
  }
  return { source: ddl.statement, statement: plan.statement, targets: plan.targets.map((t) => `${t.schema}.${t.table}`) };
}

function shorten(sql: string): string {
  const one = sql.replace(/\s+/g, ' ').trim();
  return one.length > 500 ? `${one.slice(0, 500)}…` : one;
}
