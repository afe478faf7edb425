/** `seaotter pipeline apply|status|pause|resume|stop`: the same workflow surface the temporal CLI uses. */
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client, type WorkflowExecutionDescription } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import proto from '@temporalio/proto';
import { pipelineWorkflowId } from '../lib/spec.js';

const PendingActivityState = proto.temporal.api.enums.v1.PendingActivityState;
import type { SeaotterConfig } from '../lib/config/schema.js';
import * as m from '../workflows/messages.js';
import type { pipelineWorkflow } from '../workflows/pipeline.js';
import { UnreachableError, UserError } from './errors.js';
import { resolvePipelines } from './resolve.js';
import { codecFromEnv, ENCRYPTED_ENCODING, KEY_ENV, type SeaotterCodec } from './codec.js';
import { connectionsOutsideConfig, signedText } from '../lib/spec-trust.js';
import { datacenterOf } from '../lib/routing.js';
import { formatWaiting, PollerCounter, waitingTasks, type WaitingTask } from './waiting.js';
import { copyingFiles, formatCopying, type CopyingFiles } from './copying.js';

export interface ApplyOutcome {
  pipeline: string;
  workflowId: string;
  action: 'started' | 'unchanged' | 'updated';
  detail: string;
}

export async function applyPipelines(client: Client, config: SeaotterConfig, opts: { replace?: boolean } = {}): Promise<ApplyOutcome[]> {
  if (opts.replace) {
    // Replace = end the running workflows first, so the checkpoint read below is the last word;
    // but only once the config is known to apply: a refused one leaves them running.
    await resolvePipelines(config);
    for (const p of config.pipelines) await replacePipeline(client, p.id);
  }
  const resolved = await resolvePipelines(config);
  // With a key, workers run only specs signed with it (lib/spec-trust.ts).
  const codec = codecFromEnv();
  if (codec) for (const r of resolved) r.spec.signature = codec.sign(signedText(r.spec));
  // Every running pipeline is asked first, and any that cannot take the new config refuses the
  // whole apply before anything changes.
  const running = new Map<string, m.PipelineStatus>();
  for (const { spec } of resolved) {
    const workflowId = pipelineWorkflowId(spec.id);
    if (!(await isRunning(client, workflowId))) continue;
    await needsWorker(client, spec.id, workflowId);
    const status = await runningStatus(client, spec.id);
    refuseUnlessHandedOver(spec.id, status, config, codec);
    running.set(spec.id, status);
  }
  const outcomes: ApplyOutcome[] = [];
  for (const { spec, startSeq, resumedFromCheckpoint } of resolved) {
    const workflowId = pipelineWorkflowId(spec.id);
    const handle = client.workflow.getHandle<typeof pipelineWorkflow>(workflowId);
    const status = running.get(spec.id);
    if (status) {
      const resign = codec !== undefined && status.specSignedBy !== codec.keyIds[0];
      if (status.specVersion === spec.version && !resign) {
        outcomes.push({ pipeline: spec.id, workflowId, action: 'unchanged', detail: `running at ${status.committedPosition}` });
      } else {
        // A running pipeline keeps its own positions; only the mapping and settings change (or,
        // after a key rotation, the signature: batches in flight finish under the old one).
        const msg = await handle.executeUpdate(m.reconfigureUpdate, { args: [spec] });
        const why = status.specVersion === spec.version ? ` (signed again, with key id ${codec!.keyIds[0]})` : '';
        outcomes.push({ pipeline: spec.id, workflowId, action: 'updated', detail: `${msg}${why}` });
      }
      continue;
    }
    try {
      await client.workflow.start('pipelineWorkflow', {
        workflowId,
        // The workflows run where capture does (README "Datacenters").
        taskQueue: spec.sourceQueue,
        args: [{ spec, startSeq }],
        typedSearchAttributes: [
          { key: m.SA_PIPELINE, value: spec.id },
          { key: m.SA_STATE, value: 'running' },
        ],
      });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
    const from = [spec.start.file !== undefined ? `${spec.start.file}:${spec.start.pos}` : '', spec.start.gtid ? `gtid ${spec.start.gtid}` : '']
      .filter(Boolean)
      .join(' ');
    outcomes.push({
      pipeline: spec.id,
      workflowId,
      action: 'started',
      detail: resumedFromCheckpoint ? `resuming after batch ${startSeq} at ${from}` : `starting at ${from}`,
    });
  }
  return outcomes;
}

/** The first line of an error's innermost cause: a failed query's own message says only that it failed. */
function rootCause(err: unknown): string {
  let e = err as { message?: string; cause?: unknown };
  while (e.cause && typeof e.cause === 'object') e = e.cause as typeof e;
  return String(e.message ?? err).split('\n')[0]!;
}

/** True when the run's input was encrypted (by a CLI with the key). */
async function startedEncrypted(client: Client, workflowId: string): Promise<boolean> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const input = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
  const encoding = input?.metadata?.encoding;
  return encoding !== undefined && encoding !== null && Buffer.from(encoding).toString() === ENCRYPTED_ENCODING;
}

/** A running pipeline's status, for apply; one that cannot answer is to be replaced. */
async function runningStatus(client: Client, id: string): Promise<m.PipelineStatus> {
  const handle = client.workflow.getHandle<typeof pipelineWorkflow>(pipelineWorkflowId(id));
  const d = await handle.describe();
  try {
    return await queryStatus(client, handle, d.taskQueue);
  } catch (err) {
    const cause = rootCause(err);
    // This CLI lacks the key the workers answer with: replacing would start the pipeline unencrypted.
    if (cause.includes(`Unknown encoding: ${ENCRYPTED_ENCODING}`)) {
      throw new UserError(`pipeline ${id} answers encrypted: set ${KEY_ENV} to the workers' key and apply again`);
    }
    const why = (await failingWorkflowTask(client, d)) ?? cause;
    throw new UserError(
      `pipeline ${id} is running but cannot answer (${why}); if it runs workflow code of an ` +
        `older seaotter build, or was started without ${KEY_ENV} while workers have it, apply again with --replace: it ends that ` +
        "workflow and restarts from the target's checkpoint",
    );
  }
}

/**
 * Refuses a new config that a running pipeline cannot take at its next batch boundary: its
 * batches in flight load under the running spec, so workers must still run that spec.
 */
function refuseUnlessHandedOver(id: string, status: m.PipelineStatus, config: SeaotterConfig, codec: SeaotterCodec | undefined): void {
  const replace = "apply again with --replace (it ends that workflow and restarts it from the target's checkpoint)";
  if (status.state === 'stopping') {
    throw new UserError(`pipeline ${id} is stopping (its loading batches are finishing); apply again once "seaotter pipeline status ${id}" says stopped`);
  }
  // Workers with the key refuse an unsigned spec.
  if (codec && !status.specSignedBy) {
    throw new UserError(`pipeline ${id} runs a spec that is not signed (applied without ${KEY_ENV}, or by a build before signatures), which workers with the key do not run: ${replace}`);
  }
  // Workers reading this config must still allow where the running spec connects (absent from older builds).
  const problems = status.connections ? connectionsOutsideConfig(status.connections, config) : [];
  if (problems.length) {
    throw new UserError(`pipeline ${id}: this config changes where it connects or what it runs (${problems.join('; ')}), and workers reading it would refuse its batches in flight: ${replace}`);
  }
}

/** Terminates a pipeline workflow (its batch children end with it) and waits until they are gone. */
async function replacePipeline(client: Client, id: string): Promise<void> {
  const workflowId = pipelineWorkflowId(id);
  if (!(await isRunning(client, workflowId))) return;
  // Without the key, the new run would start unencrypted, which workers with the key refuse.
  if (!codecFromEnv() && (await startedEncrypted(client, workflowId))) {
    throw new UserError(`pipeline ${id} runs with encrypted payloads: set ${KEY_ENV} to the workers' key before replacing it (workers with the key refuse a pipeline started without it)`);
  }
  await client.workflow.getHandle(workflowId).terminate('replaced by seaotter pipeline apply --replace');
  const deadline = Date.now() + 60_000;
  for (;;) {
    let running = 0;
    for await (const _ of client.workflow.list({ query: `SeaotterPipeline = '${id}' AND ExecutionStatus = 'Running'` })) running++;
    if (running === 0) return;
    if (Date.now() > deadline) throw new UserError(`pipeline ${id}: ${running} workflow(s) still running a minute after termination`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** A running pipeline answers apply's query only through a worker of its (source) datacenter. */
async function needsWorker(client: Client, id: string, workflowId: string): Promise<void> {
  const { taskQueue } = await client.workflow.getHandle(workflowId).describe();
  if ((await new PollerCounter(client).count(taskQueue, 'workflow')) > 0) return;
  throw new UnreachableError(`pipeline ${id} is running, but no worker polls ${taskQueue} to answer; start one with "seaotter worker --dc ${datacenterOf(taskQueue)}", then apply again`);
}

async function isRunning(client: Client, workflowId: string): Promise<boolean> {
  try {
    const d = await client.workflow.getHandle(workflowId).describe();
    return d.status.name === 'RUNNING';
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}

/** A pending activity that is failing and being retried: what an operator needs to see. */
export interface RetryingActivity {
  workflowId: string;
  activity: string;
  attempt: number;
  error: string;
}

/** `status --json` object: CONTRACT.md's fields plus what helps an operator. */
export interface StatusReport extends m.PipelineStatus {
  lagSeconds: number;
  retrying: RetryingActivity[];
  /** Tasks waiting for a worker of their datacenter (see client/waiting.ts). */
  waiting: WaitingTask[];
  /** Batches copying files, with how far they got (see client/copying.ts). */
  copying: CopyingFiles[];
}

/**
 * What `status` can say of a pipeline whose workflow no worker runs (none polls its task queue):
 * what the workflow last published in its search attributes, and what it waits for.
 */
export interface UnansweredStatus {
  pipeline: string;
  state: string;
  /** False: the workflow did not answer; the fields are its last published search attributes. */
  answered: false;
  committedPosition: string;
  committedSeq: number;
  /** The contract's other fields, unknown without an answer. */
  acceptedPosition: null;
  batchesInFlight: null;
  lagSeconds: null;
  rowsApplied: null;
  lastError: null;
  waiting: WaitingTask[];
}

/** No worker runs the pipeline workflow's task queue; `report` says what is known and what waits. */
export class NoWorkerError extends UnreachableError {
  constructor(readonly report: UnansweredStatus, why?: string) {
    super(`pipeline ${report.pipeline}: ${[why, ...report.waiting.map(formatWaiting)].filter(Boolean).join('; ')}`);
  }
}

async function unanswered(client: Client, id: string, d: WorkflowExecutionDescription, pollers: PollerCounter): Promise<UnansweredStatus> {
  const sa = d.typedSearchAttributes;
  // The pipeline workflow's own pending activity is capture, on the same (source) queue.
  const queues = { sourceQueue: d.taskQueue, targetQueue: d.taskQueue };
  return {
    pipeline: id,
    state: sa.get(m.SA_STATE) ?? 'running',
    answered: false,
    committedPosition: sa.get(m.SA_POSITION) ?? '',
    committedSeq: sa.get(m.SA_BATCH_SEQ) ?? 0,
    acceptedPosition: null,
    batchesInFlight: null,
    lagSeconds: null,
    rowsApplied: null,
    lastError: null,
    waiting: await waitingTasks(client, [d.workflowId], queues, pollers),
  };
}

/**
 * A raw failure's message. Workers with a codec key keep it in the failure's encoded attributes
 * (lib/failure-converter.cts), encrypted: read back through the client's codec.
 */
async function failureMessage(client: Client, failure: { message?: string | null; encodedAttributes?: Payload | null }): Promise<string> {
  if (!failure.encodedAttributes) return failure.message ?? '';
  const { payloadCodecs, payloadConverter } = client.workflow.options.loadedDataConverter;
  let payload = failure.encodedAttributes as Payload;
  for (const codec of [...payloadCodecs].reverse()) [payload] = (await codec.decode([payload])) as [Payload];
  const attrs = payloadConverter.fromPayload<{ message?: unknown }>(payload);
  return typeof attrs?.message === 'string' ? attrs.message : (failure.message ?? '');
}

async function retryingActivities(client: Client, workflowIds: string[]): Promise<RetryingActivity[]> {
  const out: RetryingActivity[] = [];
  for (const id of workflowIds) {
    try {
      const d = await client.workflow.getHandle(id).describe();
      for (const a of d.raw.pendingActivities ?? []) {
        // Retrying = a failed attempt, unless the attempt now running has heartbeated since it
        // started (a capture that restarted fine: its old failure is history).
        const started = Number(a.lastStartedTime?.seconds ?? 0);
        const beat = Number(a.lastHeartbeatTime?.seconds ?? 0);
        const healthy = a.state === PendingActivityState.PENDING_ACTIVITY_STATE_STARTED && started > 0 && beat >= started;
        if ((a.attempt ?? 1) > 1 && a.lastFailure && !healthy) {
          out.push({ workflowId: id, activity: a.activityType?.name ?? '?', attempt: a.attempt ?? 0, error: await failureMessage(client, a.lastFailure) });
        }
      }
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
  }
  return out;
}

export async function pipelineStatus(client: Client, id: string): Promise<StatusReport> {
  const workflowId = pipelineWorkflowId(id);
  const handle = client.workflow.getHandle<typeof pipelineWorkflow>(workflowId);
  const pollers = new PollerCounter(client);
  let status: m.PipelineStatus;
  try {
    const d = await handle.describe();
    if (d.status.name === 'RUNNING') {
      // Without a worker on its queue nobody can answer the query: say what waits instead of
      // timing out (also when a worker that stopped is still listed as polling).
      if ((await pollers.count(d.taskQueue, 'workflow')) === 0) throw new NoWorkerError(await unanswered(client, id, d, pollers));
      try {
        status = await queryStatus(client, handle, d.taskQueue);
      } catch (err) {
        if (!(err instanceof UnreachableError) && rootCause(err).includes(`Unknown encoding: ${ENCRYPTED_ENCODING}`)) throw err;
        // The workflow cannot run (a payload its workers refuse, say): why, not that no worker answered.
        const failing = await failingWorkflowTask(client, d);
        if (failing) throw new UserError(`pipeline ${id} cannot answer: ${failing}`);
        if (!(err instanceof UnreachableError)) throw new UserError(`pipeline ${id} cannot answer: ${rootCause(err)}`);
        throw new NoWorkerError(await unanswered(client, id, d, pollers), err.message);
      }
    } else {
      status = await closedStatus(handle, id, d.status.name);
    }
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new UserError(`no pipeline named "${id}" (workflow ${workflowId} not found)`);
    throw err;
  }
  const now = Date.now();
  const stopped = status.state === 'stopped';
  const retrying = stopped ? [] : await retryingActivities(client, [workflowId, ...status.inFlightWorkflowIds.slice(0, 1)]);
  let lagSeconds = status.oldestPendingEventTime ? Math.max(0, (now - status.oldestPendingEventTime) / 1000) : 0;
  // Capture failing (the source unreachable, say): nothing is in flight, yet the target may fall
  // behind by as much as it has not heard from the source. That much, so an alert on lag fires.
  if (status.lastCommittedEventTime && retrying.some((r) => r.activity === 'captureBinlog')) {
    lagSeconds = Math.max(lagSeconds, (now - status.lastCommittedEventTime) / 1000);
  }
  // Statuses of older builds' workflows lack the queues; they then report no waiting tasks.
  const waiting = stopped || !status.sourceQueue ? [] : await waitingTasks(client, [workflowId, ...status.inFlightWorkflowIds.slice(0, 8)], status, pollers);
  const copying = stopped ? [] : await copyingFiles(client, id);
  // `connections` is for apply (refuseUnlessHandedOver), not for operators' status lines.
  const { connections: _forApply, ...shown } = status;
  return { ...shown, lagSeconds, retrying, waiting, copying };
}

/** A query needs a worker on the pipeline's task queue; say so instead of hanging. */
async function queryStatus(client: Client, handle: { query: (q: typeof m.statusQuery) => Promise<m.PipelineStatus> }, taskQueue: string): Promise<m.PipelineStatus> {
  // The query is cancelled at the timeout, so that no call is left pending on a connection the
  // CLI then closes.
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), QUERY_TIMEOUT_MS);
  try {
    return await client.withAbortSignal(abort.signal, () => handle.query(m.statusQuery));
  } catch (err) {
    if (!abort.signal.aborted) throw err;
    throw new UnreachableError(`no worker answered on task queue ${taskQueue} within ${QUERY_TIMEOUT_MS / 1000} s; start one with "seaotter worker --dc ${taskQueue.replace(/^seaotter\./, '')}"`);
  } finally {
    clearTimeout(timer);
  }
}

/** The last failure of the workflow's tasks while they keep failing (a workflow that cannot run), else undefined. */
async function failingWorkflowTask(client: Client, d: WorkflowExecutionDescription): Promise<string | undefined> {
  if ((d.raw.pendingWorkflowTask?.attempt ?? 1) <= 1) return undefined;
  const history = await client.workflow.getHandle(d.workflowId, d.runId).fetchHistory();
  const failed = [...(history.events ?? [])].reverse().find((e) => e.workflowTaskFailedEventAttributes)?.workflowTaskFailedEventAttributes?.failure;
  if (!failed) return undefined;
  return `its workflow task fails (attempt ${d.raw.pendingWorkflowTask?.attempt}): ${(await failureMessage(client, failed)).split('\n')[0]}`;
}

const QUERY_TIMEOUT_MS = 10_000;

async function closedStatus(handle: { result(): Promise<m.PipelineStatus> }, id: string, how: string): Promise<m.PipelineStatus> {
  try {
    return { ...(await handle.result()), state: 'stopped' };
  } catch (err) {
    throw new UserError(`pipeline ${id} is not running (${how.toLowerCase()}: ${(err as Error).message}); run "seaotter pipeline apply" to start it`);
  }
}

/** Ids of running pipelines, from Temporal's visibility. */
export async function listPipelines(client: Client): Promise<string[]> {
  const ids: string[] = [];
  for await (const w of client.workflow.list({ query: `WorkflowType = 'pipelineWorkflow' AND ExecutionStatus = 'Running'` })) {
    ids.push(w.workflowId.replace(/^seaotter-pipeline-/, ''));
  }
  return ids.sort();
}

export async function signalPipeline(client: Client, id: string, signal: 'pause' | 'resume' | 'stop'): Promise<void> {
  const def = { pause: m.pauseSignal, resume: m.resumeSignal, stop: m.stopSignal }[signal];
  try {
    await client.workflow.getHandle(pipelineWorkflowId(id)).signal(def);
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new UserError(`no running pipeline named "${id}"`);
    throw err;
  }
}

/** Waits for a stopped pipeline's workflow to end (following continue-as-new); its final status. */
export async function waitStopped(client: Client, id: string): Promise<m.PipelineStatus> {
  return client.workflow.getHandle<typeof pipelineWorkflow>(pipelineWorkflowId(id)).result();
}

/** One line per pipeline for humans. */
export function formatStatus(s: StatusReport): string {
  const lines = [
    `${s.pipeline}: ${s.state}  committed batch ${s.committedSeq} at ${s.committedPosition || '-'}  accepted ${s.acceptedSeq} at ${s.acceptedPosition || '-'}`,
    `  in flight ${s.batchesInFlight}  lag ${s.lagSeconds.toFixed(1)} s  rows applied ${s.rowsApplied}  ${s.rowsPerSecond} rows/s${s.deadLettered ? `  dead-lettered ${s.deadLettered}` : ''}${s.filesMissing ? `  files missing (skipped) ${s.filesMissing}` : ''}`,
  ];
  if (s.lastError) lines.push(`  HALTED at batch ${s.lastError.seq} (${s.lastError.workflowId}): ${s.lastError.message}`, `  fix the cause, then: seaotter pipeline resume ${s.pipeline}`);
  for (const r of s.retrying) lines.push(`  retrying ${r.activity} (attempt ${r.attempt}, ${r.workflowId}): ${r.error}`);
  for (const w of s.waiting) lines.push(`  waiting: ${formatWaiting(w)}`);
  for (const c of s.copying ?? []) lines.push(`  copying files: ${formatCopying(c)}`);
  return lines.join('\n');
}

/** For humans, a pipeline whose workflow no worker runs. */
export function formatUnanswered(s: UnansweredStatus): string {
  return [
    `${s.pipeline}: ${s.state} (not answering: as last published) committed batch ${s.committedSeq} at ${s.committedPosition || '-'}`,
    ...s.waiting.map((w) => `  waiting: ${formatWaiting(w)}`),
  ].join('\n');
}
