/**
 * Every signal, query, update and search attribute of seaotter's workflows, defined once so the
 * CLI, the capture activity and the tests use the same definitions (CONTRACT.md names them).
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type { BatchDescriptor, BinlogPosition } from '../lib/model.js';
import type { PipelineSpec } from '../lib/spec.js';
import type { SpecConnections } from '../lib/spec-trust.js';

/** `stopping`: stop was asked and the batches holding load permits finish; `stopped` once the workflow has ended. */
export type PipelineState = 'running' | 'paused' | 'halted' | 'stopping' | 'stopped';

/** What `status` answers; `seaotter pipeline status --json` prints it with lag computed client-side. */
export interface PipelineStatus {
  pipeline: string;
  state: PipelineState;
  acceptedPosition: string;
  committedPosition: string;
  acceptedSeq: number;
  committedSeq: number;
  batchesInFlight: number;
  rowsApplied: number;
  /** Rows the target refused that went to dead-letter files (`load.onError: skip`). */
  deadLettered: number;
  /** Files named by rows but missing at the source, skipped (`files[].onMissing: skip`). */
  filesMissing?: number;
  /** Rows committed per second over the last minute of workflow time. */
  rowsPerSecond: number;
  /** Source commit time (epoch ms) of the oldest batch not yet committed, or null when none. */
  oldestPendingEventTime: number | null;
  /** Source commit time (epoch ms) of the newest committed transaction. */
  lastCommittedEventTime: number | null;
  lastError: BatchError | null;
  /** Ids of batch workflows not yet committed, for operators and `status` to describe. */
  inFlightWorkflowIds: string[];
  specVersion: string;
  /** Id of the key `pipeline apply` signed the spec with (lib/spec-trust.ts), or null when unsigned; absent from older builds. */
  specSignedBy?: string | null;
  /** Where the running spec connects and what it runs (lib/spec-trust.ts): `apply` checks the new config still allows it. */
  connections?: SpecConnections;
  /** Task queues of the source's datacenter (workflows, capture) and of the target's (load). */
  sourceQueue: string;
  targetQueue: string;
  /** The accepted position itself: where a (re)started capture resumes. */
  resumeFrom: BinlogPosition;
}

/** A batch that failed for good: which one, and why (the refused statement included). */
export interface BatchError {
  seq: number;
  workflowId: string;
  message: string;
  at: string;
}

export interface SubmitBatchResult {
  seq: number;
  duplicate: boolean;
}

export const pauseSignal = defineSignal('pause');
export const resumeSignal = defineSignal('resume');
export const stopSignal = defineSignal('stop');
export const statusQuery = defineQuery<PipelineStatus>('status');
/** Capture submits each staged batch here; the update returns once the batch is accepted. */
export const submitBatchUpdate = defineUpdate<SubmitBatchResult, [BatchDescriptor]>('submitBatch');
/** `pipeline apply` with a changed config: takes effect for batches accepted from then on. */
export const reconfigureUpdate = defineUpdate<string, [PipelineSpec]>('reconfigure');
/** The pipeline lets batch n load once batch n−1 has committed. */
export const loadPermitSignal = defineSignal('loadPermit');

export const SA_PIPELINE = defineSearchAttributeKey('SeaotterPipeline', SearchAttributeType.KEYWORD);
export const SA_BATCH_SEQ = defineSearchAttributeKey('SeaotterBatchSeq', SearchAttributeType.INT);
export const SA_ROWS = defineSearchAttributeKey('SeaotterRows', SearchAttributeType.INT);
export const SA_POSITION = defineSearchAttributeKey('SeaotterPosition', SearchAttributeType.KEYWORD);
export const SA_STATE = defineSearchAttributeKey('SeaotterState', SearchAttributeType.KEYWORD);
