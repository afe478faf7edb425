/**
 * seaotter's own metrics, for lag and stall alarms. They go through the Temporal SDK's metric
 * meter, so a worker started with `--metrics-port` serves them on the same Prometheus endpoint as
 * the SDK's own (without one they go nowhere). Each carries the pipeline id as `pipeline`, beside
 * the tags the SDK adds (namespace, taskQueue, activityType). Capture reports at the source's
 * datacenter, loads at the target's: alarms join them by pipeline (examples/prometheus-alerts.yml).
 */
import { ApplicationFailure, type MetricMeter } from '@temporalio/common';

/** Every metric seaotter emits, with its help text (README: Metrics and alarms). */
export const METRICS = {
  batchesAccepted: ['seaotter_batches_accepted_total', 'batches the pipeline accepted from capture'],
  rowsCaptured: ['seaotter_rows_captured_total', 'row changes in accepted batches'],
  acceptedEventTime: ['seaotter_accepted_event_timestamp_seconds', 'source commit time of the newest change the pipeline accepted (Unix seconds)'],
  captureFailures: ['seaotter_capture_failures_total', 'capture attempts that ended with an error, by error type'],
  batchesCommitted: ['seaotter_batches_committed_total', 'batches committed on the target'],
  rowsApplied: ['seaotter_rows_applied_total', 'row changes committed on the target'],
  rowsDeadLettered: ['seaotter_rows_dead_lettered_total', 'row changes the target refused, written to dead-letter files'],
  commitLag: ['seaotter_commit_lag_seconds', "seconds from the source commit of a batch's oldest change to its commit on the target"],
  appliedEventTime: ['seaotter_applied_event_timestamp_seconds', 'source commit time of the newest change committed on the target (Unix seconds)'],
  lastCommitTime: ['seaotter_last_commit_timestamp_seconds', 'when the last batch was committed on the target (Unix seconds)'],
  loadFailures: ['seaotter_load_failures_total', 'load attempts that failed, by error type (TargetRefused halts the pipeline)'],
  filesCopied: ['seaotter_files_copied_total', 'files copied to the target store before their rows load'],
  fileBytesCopied: ['seaotter_file_bytes_copied_total', 'bytes of the files copied to the target store'],
  filesSkipped: ['seaotter_files_skipped_total', 'files the target store already had (same size and SHA-256)'],
  filesMissing: ['seaotter_files_missing_total', 'files missing from the source store (onMissing: halt stops the pipeline, skip loads the rows)'],
  fileCopyFailures: ['seaotter_file_copy_failures_total', 'copyFiles attempts that failed, by error type (FileMissing halts the pipeline)'],
  pausedSeen: ['seaotter_pipeline_paused_seen_timestamp_seconds', 'when capture last found its pipeline paused (Unix seconds; refreshed every 15 s while it stays paused)'],
} as const;

/** Buckets of `seaotter_commit_lag_seconds` (the SDK's default buckets are for milliseconds). */
export const COMMIT_LAG_BUCKETS_SECONDS = [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800];

/** Metrics never fail what they measure: a committed load must not be retried for a meter error. */
function safely(record: () => void): void {
  try {
    record();
  } catch {
    // Nothing to do: the measurement is lost, the work is not.
  }
}

/** The `error` label of a failure metric: an ApplicationFailure's type, else the error's name. */
export function errorType(err: unknown): string {
  if (err instanceof ApplicationFailure) return err.type ?? 'ApplicationFailure';
  return (err as Error | undefined)?.name ?? 'Error';
}

/** Instruments by meter and name, created once: copyFiles records per file, capture and loads per batch. */
const instruments = new WeakMap<MetricMeter, Map<string, unknown>>();
function instrument<T>(meter: MetricMeter, name: string, create: () => T): T {
  let byName = instruments.get(meter);
  if (!byName) instruments.set(meter, (byName = new Map()));
  if (!byName.has(name)) byName.set(name, create());
  return byName.get(name) as T;
}

const counter = (meter: MetricMeter, [name, help]: readonly [string, string], unit: string) => instrument(meter, name, () => meter.createCounter(name, unit, help));
const gauge = (meter: MetricMeter, [name, help]: readonly [string, string]) => instrument(meter, name, () => meter.createGauge(name, 'float', 's', help));

/** What capture reports when the pipeline accepts a batch (not a duplicate). */
export function recordAccepted(meter: MetricMeter, pipeline: string, batch: { rows: number; lastEventTime: number }): void {
  safely(() => {
    const tags = { pipeline };
    counter(meter, METRICS.batchesAccepted, 'batches').add(1, tags);
    counter(meter, METRICS.rowsCaptured, 'rows').add(batch.rows, tags);
    gauge(meter, METRICS.acceptedEventTime).set(batch.lastEventTime / 1000, tags);
  });
}

/** What capture reports when an attempt ends with an error (it is retried). */
export function recordCaptureFailure(meter: MetricMeter, pipeline: string, error: string): void {
  safely(() => {
    counter(meter, METRICS.captureFailures, 'attempts').add(1, { pipeline, error });
  });
}

/** What a load reports once its batch is committed on the target. */
export function recordCommitted(
  meter: MetricMeter,
  pipeline: string,
  batch: { firstEventTime: number; lastEventTime: number },
  result: { rowsApplied: number; deadLettered: number },
  now = Date.now(),
): void {
  safely(() => {
    const tags = { pipeline };
    counter(meter, METRICS.batchesCommitted, 'batches').add(1, tags);
    counter(meter, METRICS.rowsApplied, 'rows').add(result.rowsApplied, tags);
    if (result.deadLettered > 0) counter(meter, METRICS.rowsDeadLettered, 'rows').add(result.deadLettered, tags);
    const [lagName, lagHelp] = METRICS.commitLag;
    instrument(meter, lagName, () => meter.createHistogram(lagName, 'float', 's', lagHelp)).record(Math.max(0, (now - batch.firstEventTime) / 1000), tags);
    gauge(meter, METRICS.appliedEventTime).set(batch.lastEventTime / 1000, tags);
    gauge(meter, METRICS.lastCommitTime).set(now / 1000, tags);
  });
}

/** What copyFiles reports for each file as it finishes (a retried copy skips what an earlier attempt copied). */
export function recordFile(meter: MetricMeter, pipeline: string, outcome: 'copied' | 'skipped' | 'missing', bytes: number): void {
  safely(() => {
    const tags = { pipeline };
    if (outcome === 'copied') {
      counter(meter, METRICS.filesCopied, 'files').add(1, tags);
      counter(meter, METRICS.fileBytesCopied, 'bytes').add(bytes, tags);
    } else counter(meter, outcome === 'skipped' ? METRICS.filesSkipped : METRICS.filesMissing, 'files').add(1, tags);
  });
}

/** What copyFiles reports when an attempt fails. */
export function recordFileCopyFailure(meter: MetricMeter, pipeline: string, error: string): void {
  safely(() => {
    counter(meter, METRICS.fileCopyFailures, 'attempts').add(1, { pipeline, error });
  });
}

/**
 * What capture reports while its pipeline is paused (it asks every PAUSE_CHECK_MS). A timestamp,
 * not a paused/running gauge: a worker that stops capturing leaves a value behind that ages, where
 * a gauge would say "paused" forever.
 */
export function recordPausedSeen(meter: MetricMeter, pipeline: string, now = Date.now()): void {
  safely(() => {
    gauge(meter, METRICS.pausedSeen).set(now / 1000, { pipeline });
  });
}

/** What a load reports when an attempt fails (TargetRefused halts the pipeline; others retry). */
export function recordLoadFailure(meter: MetricMeter, pipeline: string, error: string): void {
  safely(() => {
    counter(meter, METRICS.loadFailures, 'attempts').add(1, { pipeline, error });
  });
}
