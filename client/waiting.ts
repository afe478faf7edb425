/**
 * What a pipeline waits for in another datacenter: activities (and workflow tasks) scheduled on a
 * task queue that no worker has picked up. With workers in only one datacenter, the other's work
 * queues on `seaotter.<dc>`; `pipeline status` names it instead of showing a silent stall.
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import proto from '@temporalio/proto';
import { activityQueue, datacenterOf, type PipelineQueues } from '../lib/routing.js';

const { PendingActivityState, PendingWorkflowTaskState, TaskQueueKind, TaskQueueType } = proto.temporal.api.enums.v1;

/** A task scheduled on a task queue and not yet started by any worker. */
export interface WaitingTask {
  workflowId: string;
  /** The activity's type, or "workflow task" when the workflow itself waits for a worker. */
  task: string;
  taskQueue: string;
  /** Seconds since it was scheduled. */
  waitingSeconds: number;
  /** Workers seen polling that queue (for this kind of task) in the last 90 s. */
  pollers: number;
}

/** A task waiting this long is reported even while workers poll its queue (they are all busy). */
const REPORT_AFTER_SECONDS = 5;
/** A live worker long-polls for up to ~70 s between visits; older poller entries are gone workers. */
const POLLER_RECENT_MS = 90_000;

type Kind = 'workflow' | 'activity';

/** Counts live pollers of a task queue, once per queue and kind for one status call. */
export class PollerCounter {
  private readonly cache = new Map<string, Promise<number>>();
  constructor(private readonly client: Client) {}

  count(taskQueue: string, kind: Kind): Promise<number> {
    const key = `${kind}:${taskQueue}`;
    let n = this.cache.get(key);
    if (!n) {
      n = this.client.workflowService
        .describeTaskQueue({
          namespace: this.client.options.namespace,
          taskQueue: { name: taskQueue, kind: TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
          taskQueueType: kind === 'workflow' ? TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW : TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
        })
        .then((r) => (r.pollers ?? []).filter((p) => Date.now() - millis(p.lastAccessTime) < POLLER_RECENT_MS).length);
      this.cache.set(key, n);
    }
    return n;
  }
}

/**
 * Tasks of these workflows that wait for a worker: every one whose queue has no live poller, and
 * any that waited longer than a few seconds. `queues` maps activity types to their queue.
 */
export async function waitingTasks(client: Client, workflowIds: string[], queues: PipelineQueues, pollers = new PollerCounter(client)): Promise<WaitingTask[]> {
  const out: WaitingTask[] = [];
  const now = Date.now();
  const consider = async (workflowId: string, task: string, taskQueue: string, kind: Kind, scheduled: number) => {
    const waitingSeconds = Math.max(0, Math.round((now - scheduled) / 100) / 10);
    const n = await pollers.count(taskQueue, kind);
    if (n === 0 || waitingSeconds >= REPORT_AFTER_SECONDS) out.push({ workflowId, task, taskQueue, waitingSeconds, pollers: n });
  };
  for (const workflowId of workflowIds) {
    let d;
    try {
      d = await client.workflow.getHandle(workflowId).describe();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) continue; // committed and closed meanwhile
      throw err;
    }
    if (d.status.name !== 'RUNNING') continue;
    const wft = d.raw.pendingWorkflowTask;
    if (wft && wft.state === PendingWorkflowTaskState.PENDING_WORKFLOW_TASK_STATE_SCHEDULED) {
      await consider(workflowId, 'workflow task', d.taskQueue, 'workflow', millis(wft.scheduledTime));
    }
    for (const a of d.raw.pendingActivities ?? []) {
      if (a.state !== PendingActivityState.PENDING_ACTIVITY_STATE_SCHEDULED) continue;
      const type = a.activityType?.name ?? '?';
      // A retry's backoff is not waiting for a worker (`retrying` in status covers it).
      if ((a.attempt ?? 1) > 1 && a.lastFailure && millis(a.nextAttemptScheduleTime) > now) continue;
      await consider(workflowId, type, activityQueue(type, queues), 'activity', millis(a.scheduledTime));
    }
  }
  return out;
}

/** One line for humans, e.g. `loadBatch of seaotter-batch-orders-3 waits on seaotter.us for 12 s: no worker polling seaotter.us`. */
export function formatWaiting(w: WaitingTask): string {
  const what = w.task === 'workflow task' ? `${w.workflowId} (its workflow task)` : `${w.task} of ${w.workflowId}`;
  const why = w.pollers === 0
    ? `no worker polling ${w.taskQueue} (start one: seaotter worker --dc ${datacenterOf(w.taskQueue)})`
    : `${w.pollers} worker(s) polling, all busy`;
  return `${what} waits on ${w.taskQueue} for ${w.waitingSeconds.toFixed(0)} s: ${why}`;
}

function millis(t: { seconds?: unknown; nanos?: number | null } | null | undefined): number {
  if (!t) return 0;
  return Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6);
}
