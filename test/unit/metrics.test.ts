/**
 * seaotter's metrics: what capture and loads record, and the example alerting rules, which must
 * name only metrics seaotter emits.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { ApplicationFailure, type MetricMeter, type MetricTags } from '@temporalio/common';
import { parse } from 'yaml';
import { errorType, METRICS, recordAccepted, recordCaptureFailure, recordCommitted, recordFile, recordFileCopyFailure, recordLoadFailure, recordPausedSeen } from '../../activities/metrics.js';

type Recorded = { kind: string; name: string; value: number; tags: MetricTags };

/** A meter that keeps what is recorded. */
function fakeMeter(): { meter: MetricMeter; recorded: Recorded[] } {
  const recorded: Recorded[] = [];
  const instrument = (kind: string, name: string) => {
    const record = (value: number, tags: MetricTags = {}) => void recorded.push({ kind, name, value, tags });
    return { name, unit: '', description: '', kind, valueType: 'float', add: record, set: record, record, withTags: () => instrument(kind, name) };
  };
  const meter = {
    createCounter: (name: string) => instrument('counter', name),
    createGauge: (name: string) => instrument('gauge', name),
    createHistogram: (name: string) => instrument('histogram', name),
    withTags: () => meter,
  } as unknown as MetricMeter;
  return { meter, recorded };
}

const simple = (r: Recorded[]) => r.map(({ kind, name, value, tags }) => `${kind} ${name} ${value} ${JSON.stringify(tags)}`);

test('a committed batch: counts, its lag from the oldest change, and the times alarms compare', () => {
  const { meter, recorded } = fakeMeter();
  recordCommitted(meter, 'orders', { firstEventTime: 1_000_000, lastEventTime: 1_000_400 }, { rowsApplied: 250, deadLettered: 0 }, 1_001_500);
  assert.deepEqual(simple(recorded), [
    'counter seaotter_batches_committed_total 1 {"pipeline":"orders"}',
    'counter seaotter_rows_applied_total 250 {"pipeline":"orders"}',
    'histogram seaotter_commit_lag_seconds 1.5 {"pipeline":"orders"}',
    'gauge seaotter_applied_event_timestamp_seconds 1000.4 {"pipeline":"orders"}',
    'gauge seaotter_last_commit_timestamp_seconds 1001.5 {"pipeline":"orders"}',
  ]);
});

test('dead-lettered rows are counted when there are some; a clock behind the source gives lag 0', () => {
  const { meter, recorded } = fakeMeter();
  recordCommitted(meter, 'orders', { firstEventTime: 2_000, lastEventTime: 2_000 }, { rowsApplied: 9, deadLettered: 1 }, 1_000);
  assert.ok(simple(recorded).includes('counter seaotter_rows_dead_lettered_total 1 {"pipeline":"orders"}'));
  assert.ok(simple(recorded).includes('histogram seaotter_commit_lag_seconds 0 {"pipeline":"orders"}'));
});

test('accepted batches and failed attempts', () => {
  const { meter, recorded } = fakeMeter();
  recordAccepted(meter, 'orders', { rows: 12, lastEventTime: 5_000 });
  recordCaptureFailure(meter, 'orders', 'PositionGap');
  recordLoadFailure(meter, 'orders', 'TargetRefused');
  assert.deepEqual(simple(recorded), [
    'counter seaotter_batches_accepted_total 1 {"pipeline":"orders"}',
    'counter seaotter_rows_captured_total 12 {"pipeline":"orders"}',
    'gauge seaotter_accepted_event_timestamp_seconds 5 {"pipeline":"orders"}',
    'counter seaotter_capture_failures_total 1 {"pipeline":"orders","error":"PositionGap"}',
    'counter seaotter_load_failures_total 1 {"pipeline":"orders","error":"TargetRefused"}',
  ]);
});

test('files: copied with their bytes, skipped, missing; failed copy attempts', () => {
  const { meter, recorded } = fakeMeter();
  recordFile(meter, 'pics', 'copied', 102_400);
  recordFile(meter, 'pics', 'skipped', 0);
  recordFile(meter, 'pics', 'missing', 0);
  recordFileCopyFailure(meter, 'pics', 'FileMissing');
  assert.deepEqual(simple(recorded), [
    'counter seaotter_files_copied_total 1 {"pipeline":"pics"}',
    'counter seaotter_file_bytes_copied_total 102400 {"pipeline":"pics"}',
    'counter seaotter_files_skipped_total 1 {"pipeline":"pics"}',
    'counter seaotter_files_missing_total 1 {"pipeline":"pics"}',
    'counter seaotter_file_copy_failures_total 1 {"pipeline":"pics","error":"FileMissing"}',
  ]);
});

test('the error label: an ApplicationFailure\'s type, else the error\'s name', () => {
  assert.equal(errorType(ApplicationFailure.nonRetryable('refused', 'TargetRefused')), 'TargetRefused');
  assert.equal(errorType(ApplicationFailure.create({ message: 'no type' })), 'ApplicationFailure');
  assert.equal(errorType(new TypeError('x')), 'TypeError');
  assert.equal(errorType(undefined), 'Error');
});

test('instruments are created once per meter, not per file or batch', () => {
  const { meter, recorded } = fakeMeter();
  const created: string[] = [];
  const counting = { ...meter, createCounter: (name: string, ...rest: unknown[]) => (created.push(name), (meter.createCounter as (...a: unknown[]) => unknown)(name, ...rest)) } as unknown as MetricMeter;
  for (let i = 0; i < 3; i++) recordFile(counting, 'pics', 'copied', 10);
  assert.deepEqual(created, ['seaotter_files_copied_total', 'seaotter_file_bytes_copied_total']);
  assert.equal(recorded.length, 6);
});

test('a paused pipeline: when capture last saw it paused', () => {
  const { meter, recorded } = fakeMeter();
  recordPausedSeen(meter, 'orders', 1_700_000_000_500);
  assert.deepEqual(simple(recorded), ['gauge seaotter_pipeline_paused_seen_timestamp_seconds 1700000000.5 {"pipeline":"orders"}']);
});

test('the example alerting rules parse and name only metrics seaotter emits', async () => {
  const text = await readFile(new URL('../../../examples/prometheus-alerts.yml', import.meta.url), 'utf8');
  const doc = parse(text) as { groups: { name: string; rules: { alert: string; expr: string; labels: { severity: string }; annotations: { summary: string } }[] }[] };
  const emitted = new Set<string>(Object.values(METRICS).map(([name]) => name));
  const rules = doc.groups.flatMap((g) => g.rules);
  assert.ok(rules.length >= 5);
  for (const r of rules) {
    assert.match(r.alert, /^Seaotter[A-Z]\w+$/);
    assert.ok(['warning', 'critical'].includes(r.labels.severity), `${r.alert}: severity`);
    assert.ok(r.annotations.summary, `${r.alert}: summary`);
    for (const [name] of r.expr.matchAll(/seaotter_\w+/g)) {
      assert.ok(emitted.has(name.replace(/_bucket$/, '')), `${r.alert} names ${name}, which seaotter does not emit`);
    }
  }
  // Every alarm-relevant metric is used by some rule.
  const used = rules.map((r) => r.expr).join('\n');
  for (const name of ['seaotter_accepted_event_timestamp_seconds', 'seaotter_applied_event_timestamp_seconds', 'seaotter_last_commit_timestamp_seconds', 'seaotter_commit_lag_seconds', 'seaotter_load_failures_total', 'seaotter_capture_failures_total', 'seaotter_files_missing_total', 'seaotter_file_copy_failures_total', 'seaotter_pipeline_paused_seen_timestamp_seconds']) {
    assert.ok(used.includes(name), `no rule uses ${name}`);
  }
});

test('a meter that fails loses the measurement, never the work', () => {
  const broken = new Proxy({}, { get: () => () => { throw new Error('meter broken'); } }) as MetricMeter;
  assert.doesNotThrow(() => recordCommitted(broken, 'orders', { firstEventTime: 1, lastEventTime: 2 }, { rowsApplied: 1, deadLettered: 1 }));
  assert.doesNotThrow(() => recordAccepted(broken, 'orders', { rows: 1, lastEventTime: 2 }));
  assert.doesNotThrow(() => recordCaptureFailure(broken, 'orders', 'Error'));
  assert.doesNotThrow(() => recordLoadFailure(broken, 'orders', 'Error'));
  assert.doesNotThrow(() => recordFile(broken, 'pics', 'copied', 1));
  assert.doesNotThrow(() => recordFileCopyFailure(broken, 'pics', 'Error'));
  assert.doesNotThrow(() => recordPausedSeen(broken, 'pics'));
});
