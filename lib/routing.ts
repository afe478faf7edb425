/**
 * Which datacenter runs what. The pipeline and batch workflows run on the source's task queue,
 * with capture, extract and transform (local activities of the batch workflow); file copy and load
 * run on the target's, next to the target database. `seaotter pipeline status` uses this table to
 * name the queue a pending activity waits on (Temporal's pending-activity info does not carry it).
 */

/** The side of a pipeline an activity runs at. */
export type Side = 'source' | 'target';

export const ACTIVITY_SIDE: Readonly<Record<string, Side>> = {
  captureBinlog: 'source',
  extractBatch: 'source',
  transformBatch: 'source',
  copyFiles: 'target',
  loadBatch: 'target',
};

/** The task queues of one pipeline. */
export interface PipelineQueues {
  sourceQueue: string;
  targetQueue: string;
}

/** The task queue an activity of this pipeline is scheduled on; an unknown activity is the target's. */
export function activityQueue(activity: string, queues: PipelineQueues): string {
  return ACTIVITY_SIDE[activity] === 'source' ? queues.sourceQueue : queues.targetQueue;
}

/** The datacenter name in a task queue `seaotter.<dc>`. */
export function datacenterOf(taskQueue: string): string {
  return taskQueue.replace(/^seaotter\./, '');
}
