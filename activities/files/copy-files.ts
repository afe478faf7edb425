/**
 * `copyFiles`, at the target's datacenter: copies the files a batch's rows name before the rows
 * load, so a row never appears without its file; `deleteFiles` removes the files of deleted rows
 * (`onDelete: delete`) and the plan after the load. Both take the plan from transform's result or
 * the stage. Copies of all batches share the worker's slots (COPY_CONCURRENCY); the heartbeat
 * carries how far the plan is done, so a retried copy (after a worker died) resumes there, and
 * files already present with the same size and checksum are skipped.
 */
import { activityInfo, ApplicationFailure, CancelledFailure, Context, heartbeat, log } from '@temporalio/activity';
import PQueue from 'p-queue';
import type { FilePlan, FileRef } from '../../lib/file-keys.js';
import type { NumberedBatch } from '../../lib/model.js';
import { PrefixProgress } from '../../lib/prefix-progress.js';
import type { PipelineSpec } from '../../lib/spec.js';
import { openStage } from '../stage/stage.js';
import type { TransformResult } from '../transform/transform-batch.js';
import { copyFile, type CopyOutcome } from './copy-file.js';
import { errorType, recordFile, recordFileCopyFailure } from '../metrics.js';
import type { UploadProgress } from './resumable-copy.js';
import { openFileStore, type FileStore } from './stores/file-store.js';

export interface CopyFilesInput {
  spec: PipelineSpec;
  batch: NumberedBatch;
  transformed: TransformResult;
}

export interface CopyFilesResult {
  copied: number;
  skipped: number;
  /** Source files that were missing (`onMissing: skip`); their rows load anyway. */
  missing: number;
  /** A few of the missing keys, for the log and the Web UI. */
  missingKeys?: string[];
}

export interface DeleteFilesResult {
  deleted: number;
}

/**
 * Files this worker copies at once, over all its batches. Across datacenters a copy is mostly a
 * wait on round trips to the source's store, so many go at once: fewer and a batch of hundreds of
 * files (which backpressure makes of a steady stream) copies slower than its rows arrive. The
 * oldest batch's files go first, since its load is the next to commit. Small files (up to 4 MiB)
 * are held in memory while copied; larger ones stream, at most 8 at once (copy-file.ts), each
 * with at most two parts (8 MiB, more for files over 8 GB) in memory.
 */
export const COPY_CONCURRENCY = 64;
// (The default; `seaotter worker --copy-concurrency N` sets it for a worker: more for a long, wide
// link and many small files, fewer to spare the stores.)
const copySlots = new PQueue({ concurrency: COPY_CONCURRENCY });

/** Sets how many files this worker copies at once (`seaotter worker --copy-concurrency`). */
export function setCopyConcurrency(n: number): void {
  copySlots.concurrency = n;
}

/** Runs one file's copy in a slot of this worker's; the batch whose first change is oldest (`firstEventTime`) goes first. */
export function queueCopy<T>(firstEventTime: number, copy: () => Promise<T>): Promise<T> {
  return copySlots.add(copy, { priority: -firstEventTime });
}
/** Files removed at once by one batch's deleteFiles. */
const DELETE_CONCURRENCY = 8;
const HEARTBEAT_MS = 1000;
const MISSING_KEYS_KEPT = 10;
/** Finished items beyond the prefix a heartbeat carries at most (heartbeats stay well under 1 MB). */
const BEYOND_KEPT = 20_000;

/**
 * What a heartbeat carries: the done prefix of the plan's copies with the counts within it, and
 * the items finished beyond it (a large file early in the plan holds the prefix back). `pipeline
 * status` shows it (client/copying.ts).
 */
export interface CopyProgress {
  /** Files in the plan (absent in heartbeats of older builds). */
  total?: number;
  done: number;
  copied: number;
  skipped: number;
  missing: number;
  missingKeys: string[];
  beyond?: [number, CopyOutcome][];
  /** Large files under way, by plan index: how far each multipart upload got (resumable-copy.ts). */
  uploads?: [number, UploadProgress][];
}

function storesOf(spec: PipelineSpec): (name: string) => FileStore {
  const opened = new Map<string, FileStore>();
  return (name) => {
    let store = opened.get(name);
    if (!store) {
      const config = spec.fileStores?.[name];
      if (!config) throw ApplicationFailure.nonRetryable(`file store ${name} is not in the pipeline's spec; run pipeline apply again`, 'TransformFailed');
      store = openFileStore(name, config);
      opened.set(name, store);
    }
    return store;
  };
}

/** Runs fn over items[start…] with at most `limit` at once; stops taking new ones after a throw. */
async function eachLimited<T>(items: readonly T[], start: number, limit: number, fn: (item: T, i: number) => Promise<void>, skip?: Set<number>): Promise<void> {
  let next = start;
  let failure: unknown;
  const lane = async () => {
    while (failure === undefined && next < items.length) {
      const i = next++;
      if (skip?.has(i)) continue;
      try {
        await fn(items[i], i);
      } catch (err) {
        failure ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length - start) }, lane));
  if (failure !== undefined) throw failure;
}

function missingFailure(ref: FileRef, seq: number): ApplicationFailure {
  return ApplicationFailure.nonRetryable(
    `file ${ref.key} named by a row of ${ref.table} (batch ${seq}) is missing from ${ref.from}; restore it and resume the pipeline (or set onMissing: skip and apply with --replace)`,
    'FileMissing',
  );
}

async function copyAll(spec: PipelineSpec, batch: NumberedBatch, plan: FilePlan): Promise<CopyFilesResult> {
  const saved = activityInfo().heartbeatDetails as CopyProgress | undefined;
  const { metricMeter: meter } = Context.current();
  const p: CopyProgress = { done: 0, copied: 0, skipped: 0, missing: 0, missingKeys: [], ...saved, total: plan.copies.length, beyond: undefined, uploads: undefined };
  const savedUploads = new Map(saved?.uploads ?? []);
  const uploads = new Map<number, UploadProgress>();
  const finishedBeyond = new Set((saved?.beyond ?? []).map(([i]) => i));
  if (saved) log.info(`copyFiles resumes: ${p.done + finishedBeyond.size} of ${plan.copies.length} files were done`, { seq: batch.seq });
  const outcomes = new Map<number, CopyOutcome>();
  const progress = new PrefixProgress(p.done);
  const store = storesOf(spec);
  // Counts move only with the done prefix, so a retry that redoes the items after it counts once.
  const finish = (i: number, outcome: CopyOutcome) => {
    outcomes.set(i, outcome);
    const before = progress.watermark;
    progress.done(i);
    for (let j = before; j < progress.watermark; j++) {
      const o = outcomes.get(j)!;
      outcomes.delete(j);
      p[o]++;
      if (o === 'missing' && p.missingKeys.length < MISSING_KEYS_KEPT) p.missingKeys.push(plan.copies[j].key);
    }
    p.done = progress.watermark;
  };
  for (const [i, outcome] of saved?.beyond ?? []) finish(i, outcome);
  const details = (): CopyProgress => ({ ...p, beyond: [...outcomes].slice(0, BEYOND_KEPT), ...(uploads.size ? { uploads: [...uploads] } : {}) });
  const timer = setInterval(() => heartbeat(details()), HEARTBEAT_MS);
  try {
    await eachLimited(plan.copies, p.done, COPY_CONCURRENCY, async (ref, i) => {
      const resume = {
        saved: savedUploads.get(i),
        report: (progress: UploadProgress | undefined) => void (progress ? uploads.set(i, progress) : uploads.delete(i)),
        note: (message: string) => log.info(message, { seq: batch.seq }),
      };
      const { outcome, bytes } = await queueCopy(batch.firstEventTime, () => copyFile(store(ref.from), store(ref.to), ref.key, resume));
      recordFile(meter, spec.id, outcome, bytes);
      uploads.delete(i); // done with it, however it ended (a source gone mid-copy leaves no progress to show)
      if (outcome === 'missing') {
        if (ref.onMissing === 'halt') throw missingFailure(ref, batch.seq);
        log.warn('source file missing; row loads without it', { seq: batch.seq, key: ref.key, table: ref.table, from: ref.from });
      }
      finish(i, outcome);
    }, finishedBeyond);
  } finally {
    clearInterval(timer);
  }
  // No heartbeat here: the completion follows at once, and the worker would first wait for that
  // heartbeat's answer, a round trip to Temporal that across datacenters delays every batch's load.
  log.info('files copied', { seq: batch.seq, copied: p.copied, skipped: p.skipped, missing: p.missing });
  return { copied: p.copied, skipped: p.skipped, missing: p.missing, ...(p.missingKeys.length ? { missingKeys: p.missingKeys } : {}) };
}

export function createFileActivities() {
  return {
    async copyFiles({ spec, batch, transformed }: CopyFilesInput): Promise<CopyFilesResult> {
      if (!transformed.fileCopies) return { copied: 0, skipped: 0, missing: 0 };
      try {
        const plan = transformed.filesInline ?? (transformed.filesRef ? await openStage(spec.stage).getJson<FilePlan>(transformed.filesRef) : undefined);
        if (!plan) throw ApplicationFailure.nonRetryable(`batch ${batch.seq} names ${transformed.fileCopies} files to copy but carries no file plan`, 'StageCorrupt');
        return await copyAll(spec, batch, plan);
      } catch (err) {
        if (!(err instanceof CancelledFailure)) recordFileCopyFailure(Context.current().metricMeter, spec.id, errorType(err));
        throw err;
      }
    },

    /**
     * After the load: removes the files of deleted rows, then the staged plan (if it was staged).
     * Absent files are fine and a plan already removed means an earlier attempt finished, so a
     * retry is harmless.
     */
    async deleteFiles({ spec, batch, transformed }: CopyFilesInput): Promise<DeleteFilesResult> {
      const stage = openStage(spec.stage);
      const plan = transformed.filesInline ?? (transformed.filesRef ? await stage.getJsonIfAny<FilePlan>(transformed.filesRef) : undefined);
      if (!plan) return { deleted: 0 };
      const store = storesOf(spec);
      const timer = setInterval(() => heartbeat(), HEARTBEAT_MS);
      // A batch workflow that has ended (apply --replace terminates them) cancels this through a
      // heartbeat: no file is removed after that, since a new run may already have copied it again.
      const ctx = Context.current();
      try {
        await eachLimited(plan.deletes, 0, DELETE_CONCURRENCY, async (ref) => {
          if (ctx.cancellationSignal.aborted) throw new CancelledFailure('deleteFiles cancelled: its batch workflow has ended');
          await store(ref.to).remove(ref.key);
        });
      } finally {
        clearInterval(timer);
      }
      if (plan.deletes.length) log.info('files of deleted rows removed', { seq: batch.seq, deleted: plan.deletes.length });
      if (transformed.filesRef) await stage.remove(transformed.filesRef);
      return { deleted: plan.deletes.length };
    },
  };
}
