/**
 * The pipeline's acceptance rules, without a server: batches are numbered in order, an exact
 * re-submission is recognised, and a batch re-cut differently after a capture crash is refused
 * (accepting it would apply its rows twice or skip some).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BatchDescriptor, BinlogPosition } from '../../lib/model.js';
import type { PipelineSpec } from '../../lib/spec.js';
import { dueForContinueAsNew, Pipeline, RUN_LIMITS } from '../../workflows/pipeline-state.js';

const at = (pos: number): BinlogPosition => ({ file: 'mysql-bin.000001', pos });
const batch = (from: number, to: number, rows = 1): BatchDescriptor => ({
  from: at(from),
  to: at(to),
  ref: `r${from}-${to}`,
  rows,
  transactions: 1,
  firstEventTime: 1000 + from,
  lastEventTime: 1000 + to,
});
const spec = { id: 'p', start: at(4), batch: { maxRows: 10, maxWaitMs: 10, maxInFlight: 2 }, version: 'v1' } as unknown as PipelineSpec;

test('batches are numbered in order and positions advance', () => {
  const p = new Pipeline({ spec });
  p.validateSubmit(batch(4, 100));
  assert.deepEqual(p.accept(batch(4, 100)), { seq: 1, duplicate: false });
  p.validateSubmit(batch(100, 200));
  assert.deepEqual(p.accept(batch(100, 200)), { seq: 2, duplicate: false });
  assert.equal(p.hasRoom(), false, 'maxInFlight reached');
  p.commit(1, 1, 5000);
  assert.equal(p.s.committedSeq, 1);
  assert.deepEqual(p.s.committedPosition, at(100));
  assert.deepEqual(p.status(5000).resumeFrom, at(200));
});

test('an exact re-submission returns the seq it already has', () => {
  const p = new Pipeline({ spec });
  p.accept(batch(4, 100));
  p.accept(batch(100, 200));
  p.validateSubmit(batch(4, 100));
  assert.deepEqual(p.accept(batch(4, 100)), { seq: 1, duplicate: true });
  assert.equal(p.acceptedSeq, 2);
});

test('a batch re-cut with another end, or starting elsewhere, is refused as a gap', () => {
  const p = new Pipeline({ spec });
  p.accept(batch(4, 100));
  assert.throws(() => p.validateSubmit(batch(4, 150)), /expects mysql-bin.000001:100/);
  assert.throws(() => p.validateSubmit(batch(150, 200)), /PositionGap|expects/);
  p.validateSubmit(batch(100, 150));
});

test('commits must come in seq order', () => {
  const p = new Pipeline({ spec });
  p.accept(batch(4, 100));
  p.accept(batch(100, 200));
  assert.throws(() => p.commit(2, 1, 1), /out of order/);
});

test('a halt blocks loading until cleared; pause too', () => {
  const p = new Pipeline({ spec });
  p.accept(batch(4, 100));
  assert.equal(p.mayLoad(), true);
  p.halt(1, 'w', 'refused', 'now');
  assert.equal(p.state, 'halted');
  assert.equal(p.mayLoad(), false);
  p.s.lastError = null;
  p.s.paused = true;
  assert.equal(p.state, 'paused');
  assert.equal(p.mayLoad(), false);
});

test('a halt stays until resume though earlier batches commit; the earliest failed batch is shown', () => {
  const p = new Pipeline({ spec: { ...spec, batch: { ...spec.batch, maxInFlight: 4 } } });
  for (const [from, to] of [[4, 100], [100, 200], [200, 300]]) p.accept(batch(from, to));
  // Batch 3 fails while 1 still loads; then 2 fails too.
  p.halt(3, 'w3', 'transform refused', 't1');
  p.halt(2, 'w2', 'file missing', 't2');
  p.halt(3, 'w3', 'again', 't3');
  assert.equal(p.s.lastError?.seq, 2);
  p.completed(1, 5, 6000);
  assert.equal(p.s.committedSeq, 1);
  assert.equal(p.state, 'halted', 'a commit of an earlier batch does not clear the halt');
  assert.equal(p.mayLoad(), false);
  // A completion reported ahead of an earlier batch's is known as such.
  p.completed(3, 1, 6000);
  assert.equal(p.hasCompleted(3), true);
  assert.equal(p.hasCompleted(2), false);

  // Runs of older workers replay as they ran: a commit cleared the halt, the last failure replaced it.
  const old = new Pipeline({ spec: { ...spec, batch: { ...spec.batch, maxInFlight: 4 } } });
  old.haltsUntilResume = false;
  for (const [from, to] of [[4, 100], [100, 200], [200, 300]]) old.accept(batch(from, to));
  old.halt(2, 'w2', 'a', 't');
  old.halt(3, 'w3', 'b', 't');
  assert.equal(old.s.lastError?.seq, 3);
  old.completed(1, 1, 6000);
  assert.equal(old.s.lastError, null);
});

test('stop: stopping while the last loads finish, stopped only once the run has ended', () => {
  const p = new Pipeline({ spec });
  p.accept(batch(4, 100));
  assert.equal(p.state, 'running');
  p.stopping = true;
  assert.equal(p.state, 'stopping');
  assert.equal(p.status(0).state, 'stopping');
  p.ended = true;
  assert.equal(p.status(0).state, 'stopped');
});

test('completions reported out of order commit in seq order', () => {
  const p = new Pipeline({ spec: { ...spec, batch: { ...spec.batch, maxInFlight: 4 } } as PipelineSpec });
  p.accept(batch(4, 100));
  p.accept(batch(100, 200));
  p.accept(batch(200, 300));
  p.completed(2, 5, 1);
  p.completed(3, 7, 1);
  assert.equal(p.s.committedSeq, 0, 'nothing commits before batch 1');
  p.completed(1, 3, 1);
  assert.equal(p.s.committedSeq, 3);
  assert.equal(p.s.rowsApplied, 15);
  assert.deepEqual(p.s.committedPosition, at(300));
});

test('a run continues as new after continueAsNewEvery commits, or near Temporal limits, not at its early hint', () => {
  const base = { committedThisRun: 0, acceptedThisRun: 0, every: 500, historyLength: 0, historySize: 0 };
  assert.equal(dueForContinueAsNew(base), false);
  // Temporal suggests continue-as-new at 4,096 events; the pipeline goes on (each hand-over costs lag).
  assert.equal(dueForContinueAsNew({ ...base, historyLength: 4_096, historySize: 3 * 1024 * 1024 }), false);
  assert.equal(dueForContinueAsNew({ ...base, committedThisRun: 499 }), false);
  assert.equal(dueForContinueAsNew({ ...base, committedThisRun: 500 }), true);
  assert.equal(dueForContinueAsNew({ ...base, historyLength: RUN_LIMITS.historyEvents }), true);
  assert.equal(dueForContinueAsNew({ ...base, historySize: RUN_LIMITS.historyBytes }), true);
  // A large continueAsNewEvery still ends the run before Temporal refuses updates (2,000 per run).
  assert.equal(dueForContinueAsNew({ ...base, every: 100_000, acceptedThisRun: RUN_LIMITS.updates }), true);
  // Every limit sits below what Temporal warns about or refuses.
  assert.ok(RUN_LIMITS.historyEvents < 10_240 && RUN_LIMITS.historyBytes < 10 * 1024 * 1024 && RUN_LIMITS.updates < 2_000);
});

test('acceptedThisRun counts new batches, not resubmissions', () => {
  const p = new Pipeline({ spec });
  p.accept(batch(4, 100));
  p.accept(batch(4, 100));
  p.accept(batch(100, 200));
  assert.equal(p.acceptedThisRun, 2);
});

test('a run draining to continue as new still accepts batches (carried to the next run), until it closes', () => {
  const p = new Pipeline({ spec });
  p.accept(batch(4, 100));
  p.draining = true;
  p.carryOver = true;
  p.validateSubmit(batch(100, 200));
  assert.deepEqual(p.accept(batch(100, 200)), { seq: 2, duplicate: false });
  // Once every batch workflow of the run has finished, capture is told to stop.
  p.closing = true;
  assert.throws(() => p.validateSubmit(batch(200, 300)), { type: 'NotAccepting' });
  // The carried batch is state of the next run: its snapshot holds it, in order.
  const next = new Pipeline({ spec, snapshot: p.s });
  assert.deepEqual(next.s.pending.map((b) => b.seq), [1, 2]);
  next.validateSubmit(batch(200, 300));
  assert.deepEqual(next.accept(batch(200, 300)), { seq: 3, duplicate: false });
});

test('a run draining for a new spec version, or stopping, accepts nothing more', () => {
  const forNewSpec = new Pipeline({ spec });
  forNewSpec.draining = true;
  assert.throws(() => forNewSpec.validateSubmit(batch(4, 100)), { type: 'NotAccepting' });
  const stopping = new Pipeline({ spec });
  stopping.stopping = true;
  assert.throws(() => stopping.validateSubmit(batch(4, 100)), { type: 'NotAccepting' });
});

test('with file deletes, a batch gets its permit (copies, loads) once no earlier batch in flight may delete files', () => {
  const deleting = { ...spec, batch: { ...spec.batch, maxInFlight: 8 }, tables: [{ files: [{ onDelete: 'delete' }] }] } as unknown as PipelineSpec;
  const p = new Pipeline({ spec: deleting });
  const flagged = (from: number, to: number, mayDeleteFiles?: boolean) => ({ ...batch(from, to), ...(mayDeleteFiles === undefined ? {} : { mayDeleteFiles }) });
  p.accept(flagged(4, 100, false)); // 1
  p.accept(flagged(100, 200, false)); // 2
  p.accept(flagged(200, 300, true)); // 3 may delete
  p.accept(flagged(300, 400, false)); // 4
  p.accept(batch(400, 500)); // 5: from an older capture, unknown: counts as may
  assert.deepEqual([1, 2, 3, 4, 5].map((s) => p.mayLoadBatch(s)), [true, true, true, false, false]);
  p.completed(1, 1, 1);
  p.completed(2, 1, 1);
  p.completed(3, 1, 1);
  assert.deepEqual([4, 5].map((s) => p.mayLoadBatch(s)), [true, true]);
  p.accept(flagged(500, 600, false)); // 6
  assert.equal(p.mayLoadBatch(6), false, 'behind batch 5, which may');
  p.completed(4, 1, 1);
  p.completed(5, 1, 1);
  assert.equal(p.mayLoadBatch(6), true);
  // Runs of older workers: only the next batch to commit.
  const old = new Pipeline({ spec: deleting });
  old.fileDeletesPerBatch = false;
  old.accept(flagged(4, 100, false));
  old.accept(flagged(100, 200, false));
  assert.deepEqual([1, 2].map((s) => old.mayLoadBatch(s)), [true, false]);
});
