/**
 * Collects, during transform, the files a batch's rows name (lib/file-keys.ts), and stages the
 * plan (handing it inline too when small) for copyFiles (before the load) and deleteFiles (after
 * it). Keys come from source row values: the new row of an insert or update, the old row of a
 * delete.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { fileImage, keysFromColumns, keysFromResolver, planFiles, type FilePlan, type FileRef, type FileRule } from '../../lib/file-keys.js';
import type { Row, RowAction, RowChange } from '../../lib/model.js';
import type { TableMapping } from '../../lib/spec.js';
import { loadProcessor } from '../transform/load-processor.js';
import type { Stage } from '../stage/stage.js';

/** What a resolver module gets besides the row. */
export interface ResolverContext {
  pipeline: string;
  table: string;
  action: RowAction;
  seq: number;
}

type Resolver = (row: Row, context: ResolverContext) => unknown;

/** The stage reference of a batch's file plan. */
export function filePlanRef(pipeline: string, seq: number): string {
  return `${pipeline}/files/${seq}.json.gz`;
}

export class FileRefCollector {
  private readonly refs: FileRef[] = [];

  constructor(
    private readonly pipeline: string,
    private readonly seq: number,
  ) {}

  /** Adds the files of one change as it will be loaded (`action` after filtering). */
  /** Returns a Promise only when the table has file rules (a resolver may be async): the hot path awaits nothing. */
  add(mapping: TableMapping, change: RowChange, action: RowAction): Promise<void> | undefined {
    if (!mapping.files?.length) return undefined;
    return this.addRefs(mapping, change, action);
  }

  private async addRefs(mapping: TableMapping, change: RowChange, action: RowAction): Promise<void> {
    const row = fileImage(action, change.before, change.after);
    if (!row) return;
    const table = `${mapping.source.schema}.${mapping.source.table}`;
    for (const rule of mapping.files ?? []) {
      if (action === 'delete' && rule.onDelete === 'keep') continue;
      for (const key of await this.keys(rule, row, table, action)) {
        this.refs.push({ op: action === 'delete' ? 'delete' : 'copy', from: rule.from, to: rule.to, key, onMissing: rule.onMissing, table });
      }
    }
  }

  private async keys(rule: FileRule, row: Row, table: string, action: RowAction): Promise<string[]> {
    if (!rule.resolver) {
      try {
        return keysFromColumns(rule, row);
      } catch (err) {
        throw ApplicationFailure.nonRetryable(`file rule of ${table}: ${(err as Error).message}`, 'TransformFailed');
      }
    }
    let resolver: Resolver;
    try {
      resolver = (await loadProcessor(rule.resolver)) as unknown as Resolver;
    } catch (err) {
      throw ApplicationFailure.nonRetryable(`${(err as Error).message.replace(/^processor /, 'file resolver ')} (table ${table})`, 'TransformFailed');
    }
    try {
      return keysFromResolver(rule, await resolver({ ...row }, { pipeline: this.pipeline, table, action, seq: this.seq }));
    } catch (err) {
      throw ApplicationFailure.nonRetryable(`file resolver ${rule.resolver} failed on ${table}: ${(err as Error).message}`, 'TransformFailed');
    }
  }

  get plan(): FilePlan {
    return planFiles(this.refs);
  }

  /**
   * Stages the plan and gives its reference and counts for the transform's result, and the plan
   * itself when its JSON fits in `inlineBytes` (what batch.inlineMaxBytes leaves), so the target's
   * worker need not read the stage, often in the other datacenter.
   */
  async stage(stage: Stage, inlineBytes = 0): Promise<{ fileRefs: number; fileCopies?: number; fileDeletes?: number; filesRef?: string; filesInline?: FilePlan }> {
    const plan = this.plan;
    const total = plan.copies.length + plan.deletes.length;
    if (total === 0) return { fileRefs: 0 };
    const counts = { fileRefs: total, fileCopies: plan.copies.length, fileDeletes: plan.deletes.length };
    // Staged even when it also travels inline: a target worker of an older build reads only the
    // staged plan (filesRef), so a fleet upgraded source side first still copies every file.
    const ref = filePlanRef(this.pipeline, this.seq);
    await stage.putJson(ref, plan);
    const inline = inlineBytes > 0 && Buffer.byteLength(JSON.stringify(plan)) <= inlineBytes;
    return { ...counts, filesRef: ref, ...(inline ? { filesInline: plan } : {}) };
  }
}
