/**
 * Files being copied for a pipeline's batches, as `pipeline status` shows them: from the last
 * heartbeat of each running `copyFiles` (activities/files/copy-files.ts), so an operator sees a
 * long copy move (files done, and how far each large file is) rather than a batch that seems stuck.
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { decodeFromPayloadsAtIndex } from '@temporalio/common/lib/internal-non-workflow/index.js';
import type { CopyProgress } from '../activities/files/copy-files.js';
import { SA_PIPELINE, SA_STATE } from '../workflows/messages.js';

export interface CopyingFiles {
  workflowId: string;
  /** Files finished (copied, skipped as already there, or missing and skipped). */
  filesDone: number;
  /** Files the batch copies; null when the heartbeat does not say. */
  files: number | null;
  /** Large files part-way up (multipart into S3): bytes sent so far of their size. */
  largeFiles: { key: string; bytesDone: number; bytes: number }[];
}

/** Batches shown at most (the oldest first), to keep `status` quick. */
const MAX_BATCHES = 8;

export async function copyingFiles(client: Client, pipeline: string): Promise<CopyingFiles[]> {
  const ids: string[] = [];
  const query = `WorkflowType = 'syncBatchWorkflow' AND ExecutionStatus = 'Running' AND ${SA_PIPELINE.name} = '${pipeline}' AND ${SA_STATE.name} = 'copying files'`;
  for await (const w of client.workflow.list({ query })) ids.push(w.workflowId);
  const out: CopyingFiles[] = [];
  for (const workflowId of ids.sort(bySeq).slice(0, MAX_BATCHES)) {
    try {
      const d = await client.workflow.getHandle(workflowId).describe();
      for (const a of d.raw.pendingActivities ?? []) {
        if (a.activityType?.name !== 'copyFiles' || !a.heartbeatDetails?.payloads?.length) continue;
        const p = await decodeFromPayloadsAtIndex<CopyProgress>(client.options.loadedDataConverter, 0, a.heartbeatDetails.payloads);
        out.push(summarize(workflowId, p));
      }
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err; // finished meanwhile
    }
  }
  return out;
}

export function summarize(workflowId: string, p: CopyProgress): CopyingFiles {
  return {
    workflowId,
    filesDone: p.done + (p.beyond?.length ?? 0),
    files: p.total ?? null,
    largeFiles: (p.uploads ?? []).map(([, u]) => ({ key: u.key, bytesDone: u.etags.length * u.partSize, bytes: u.source.size })),
  };
}

function bySeq(a: string, b: string): number {
  return Number(a.slice(a.lastIndexOf('-') + 1)) - Number(b.slice(b.lastIndexOf('-') + 1));
}

const MIB = 1024 * 1024;

/** One line for humans. */
export function formatCopying(c: CopyingFiles): string {
  const large = c.largeFiles.map((f) => `; ${f.key} ${(f.bytesDone / MIB).toFixed(1)} of ${(f.bytes / MIB).toFixed(1)} MiB`).join('');
  return `${c.workflowId}: ${c.filesDone}${c.files === null ? '' : ` of ${c.files}`} files done${large}`;
}
