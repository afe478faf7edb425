/**
 * `transformBatch`: filters, processes and maps captured changes onto target tables and columns
 * (see table-transform.ts for the order) and stages the result for the load. Changes of tables no
 * rule maps are dropped here.
 */
import { log } from '@temporalio/activity';
import type { NumberedBatch, RowChange } from '../../lib/model.js';
import type { PipelineSpec, TableMapping } from '../../lib/spec.js';
import { parseChanges, stringifyChanges } from '../../lib/values.js';
import { decodeChanges, gzipText } from '../stage/stage-codec.js';
import { openStage, type Stage } from '../stage/stage.js';
import type { FilePlan } from '../../lib/file-keys.js';
import { withHeartbeat } from '../heartbeat.js';
import { FileRefCollector } from '../files/file-refs.js';
import { backQueryRef, type ExtractResult } from '../extract/extract-batch.js';
import { prepareTableTransform, type TableTransform } from './table-transform.js';
import { MappingResolver } from './dynamic-mapping.js';
import { transformDdl, type TargetDdl } from './ddl-transform.js';

export interface TransformInput {
  spec: PipelineSpec;
  batch: NumberedBatch;
  extracted: ExtractResult;
}

export interface TransformResult {
  ref: string;
  rows: number;
  /** Files the rows reference (copied before the load, or deleted after it). */
  fileRefs: number;
  /** A DDL batch's statement for the target (absent when skipped or not about mapped tables). */
  ddl?: TargetDdl;
  /** The changes as JSON lines, when small enough to travel here instead of the stage (batch.inlineMaxBytes). */
  inline?: string;
  /** Instead of `inline` above INLINE_GZIP_FROM bytes: those JSON lines gzip'd, in base64. */
  inlineGzip?: string;
  /** Of those, files to copy and to delete, and the staged plan (activities/files/file-refs.ts). */
  fileCopies?: number;
  fileDeletes?: number;
  filesRef?: string;
  /** The plan itself too, when it fits what `inline` left of batch.inlineMaxBytes: copyFiles and deleteFiles read no stage. */
  filesInline?: FilePlan;
}

export function createTransformActivities() {
  return {
    transformBatch(input: TransformInput): Promise<TransformResult> {
      return withHeartbeat(() => transform(input));
    },
  };
}

async function transform({ spec, batch, extracted }: TransformInput): Promise<TransformResult> {
  const stage = openStage(spec.stage);
  if (batch.ddl) {
    const ddl = transformDdl(spec, batch.seq, batch.ddl);
    const ref = `${spec.id}/transformed/${batch.seq}.jsonl.gz`;
    await stage.putChanges(ref, []);
    return { ref, rows: 0, fileRefs: 0, ...(ddl ? { ddl } : {}) };
  }
  const changes = await stage.getChanges(extracted.ref);
  const out: RowChange[] = [];
  const tables = new Map<TableMapping, TableTransform>();
  // One lookup per change on the hot path: mappings indexed by source table and column layout.
  const resolver = new MappingResolver(spec);
  let unmapped = 0;
  const files = new FileRefCollector(spec.id, batch.seq);
  for (const change of changes) {
    const mapping = resolver.mappingFor(change);
    if (!mapping) {
      unmapped++;
      continue;
    }
    let t = tables.get(mapping);
    if (!t) {
      t = await prepareTableTransform(spec, mapping, batch.seq);
      tables.set(mapping, t);
    }
    // apply and add return a Promise only for processors and file rules: plain rows await nothing.
    let mapped = t.apply(change);
    if (mapped instanceof Promise) mapped = await mapped;
    if (mapped) {
      out.push(mapped);
      const adding = files.add(mapping, change, mapped.action);
      if (adding) await adding;
    }
  }
  if (unmapped) log.warn('changes of unmapped tables dropped', { seq: batch.seq, unmapped });
  let filtered = 0;
  let dropped = 0;
  for (const t of tables.values()) {
    filtered += t.filtered;
    dropped += t.dropped;
  }
  if (filtered || dropped) log.debug('changes left out', { seq: batch.seq, filtered, droppedByProcessor: dropped });
  const ref = `${spec.id}/transformed/${batch.seq}.jsonl.gz`;
  const limit = spec.batch.inlineMaxBytes ?? 0;
  const inline = await inlineForm(out, limit);
  if (inline === undefined) await stage.putChanges(ref, out);
  const used = inline ? (inline.inline ?? inline.inlineGzip ?? '').length : 0;
  return { ref, rows: out.length, ...inline, ...(await files.stage(stage, limit - used)) };
}

/**
 * JSON lines from this size on travel gzip'd: a batch of rows shrinks to a quarter or less, which
 * Temporal then stores twice per batch (transform's result, the load's input) and sends to the
 * target's worker. Smaller ones stay readable in the Web UI.
 */
export const INLINE_GZIP_FROM = 8 * 1024;

/** The batch for the load's input when its JSON lines fit in `limit` bytes (batch.inlineMaxBytes), else undefined. */
export async function inlineForm(changes: readonly RowChange[], limit: number): Promise<Pick<TransformResult, 'inline' | 'inlineGzip'> | undefined> {
  // Every staged change is well over 16 bytes, so a longer batch cannot fit: skip the encoding.
  if (limit <= 0 || changes.length * 16 > limit) return undefined;
  const text = stringifyChanges(changes);
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > limit) return undefined;
  if (bytes < INLINE_GZIP_FROM) return { inline: text };
  return { inlineGzip: (await gzipText(text)).toString('base64') };
}

/**
 * What a committed batch leaves on the stage, for the load to remove: the captured batch, the
 * transformed one unless it travelled inline, the back-queried rows (consistency: backQuery),
 * and the file plan when it travelled inline too and no deleteFiles (which removes it) follows.
 */
export function stagedAfterLoad(spec: PipelineSpec, batch: NumberedBatch, t: TransformResult): string[] {
  const refs = [batch.ref];
  if (t.inline === undefined && t.inlineGzip === undefined) refs.push(t.ref);
  if (spec.consistency === 'backQuery') refs.push(backQueryRef(spec.id, batch.seq));
  if (t.filesRef && t.filesInline && !t.fileDeletes) refs.push(t.filesRef);
  return refs;
}

/** The changes of a transformed batch: inline in its result (plain or gzip'd), or on the stage. */
export function transformedChanges(stage: Stage, t: TransformResult): Promise<RowChange[]> {
  if (t.inline !== undefined) return Promise.resolve(parseChanges(t.inline));
  if (t.inlineGzip !== undefined) return decodeChanges(`${t.ref} (inline)`, Buffer.from(t.inlineGzip, 'base64'));
  return stage.getChanges(t.ref);
}
