/**
 * Halts and resume of the pipeline workflow, on a real Temporal dev server, with stand-in
 * activities: capture submits four batches, a transform can be made to fail for good, and the
 * load commits in seq order against an in-memory checkpoint (as the target's checkpoint row makes
 * real loads do). What is tested is the workflows' own logic, which real activities cannot make
 * fail at exactly these moments:
 * - a halt stays though an earlier batch commits after it, and resume retries the failed batch;
 * - two batches failing while in flight are both retried by one resume;
 * - a stop after that ends.
 * Every batch commits once, in order.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { ApplicationFailure, Context, heartbeat } from '@temporalio/activity';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { startTemporalDev, type TemporalDevServer } from '../../client/servers/temporal-dev.js';
import type { PipelineSpec } from '../../lib/spec.js';
import { resumeSignal, statusQuery, stopSignal, submitBatchUpdate, type PipelineStatus } from '../../workflows/messages.js';
import { waitFor } from '../support/cluster.js';

Runtime.install({ logger: new DefaultLogger('WARN') });

const QUEUE = 'seaotter.halts';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const at = (pos: number) => ({ file: 'mysql-bin.000001', pos });

let server: TemporalDevServer;
let client: Client;
let worker: Worker;
let running: Promise<void>;

/** What the stand-in activities do and record, per pipeline id. */
interface Scenario {
  /** Batches whose transform fails for good until `fixed`, after `failAfterMs`. */
  failing: Map<number, number>;
  fixed: boolean;
  /** How long batch 1's load takes. */
  firstLoadMs: number;
  /** The in-memory target: seqs in commit order. */
  commits: number[];
}
const scenarios = new Map<string, Scenario>();

const activities = {
  async captureBinlog({ spec, from }: { spec: PipelineSpec; from: { pos: number } }): Promise<void> {
    const h = client.workflow.getHandle(`seaotter-pipeline-${spec.id}`);
    let pos = from.pos;
    // Four batches of one row each, then idle until cancelled (as capture does with no traffic).
    while (pos < 404) {
      const b = { from: at(pos), to: at(pos + 100), ref: `r${pos}`, rows: 1, transactions: 1, firstEventTime: Date.now(), lastEventTime: Date.now() };
      await h.executeUpdate(submitBatchUpdate, { args: [b], updateId: `batch-${spec.id}-${pos}` });
      pos += 100;
    }
    for (;;) {
      heartbeat();
      await Promise.race([sleep(500), Context.current().cancelled]);
    }
  },
  async extractBatch({ batch }: { batch: { ref: string } }) {
    return { ref: batch.ref, bytes: 0 };
  },
  async transformBatch({ spec, batch }: { spec: PipelineSpec; batch: { seq: number; ref: string } }) {
    const sc = scenarios.get(spec.id)!;
    const failAfter = sc.failing.get(batch.seq);
    if (failAfter !== undefined && !sc.fixed) {
      await sleep(failAfter);
      throw ApplicationFailure.nonRetryable(`transform of batch ${batch.seq} refused`, 'TransformFailed');
    }
    return { ref: batch.ref, rows: 1, fileRefs: 0 };
  },
  async copyFiles() {
    return { copied: 0, skipped: 0, missing: 0 };
  },
  async deleteFiles() {
    return { deleted: 0 };
  },
  /** Commits batch n only after n−1 (waiting its turn, as the checkpoint row lock makes a real load). */
  async loadBatch({ spec, batch }: { spec: PipelineSpec; batch: { seq: number } }) {
    const sc = scenarios.get(spec.id)!;
    for (;;) {
      heartbeat();
      const last = sc.commits.at(-1) ?? 0;
      if (last >= batch.seq) return { rowsApplied: 0, alreadyApplied: true, statements: 0, deadLettered: 0 };
      if (last === batch.seq - 1) break;
      await Promise.race([sleep(50), Context.current().cancelled]);
    }
    if (batch.seq === 1) await sleep(sc.firstLoadMs);
    sc.commits.push(batch.seq);
    return { rowsApplied: 1, alreadyApplied: false, statements: 1, deadLettered: 0 };
  },
};

function specOf(id: string): PipelineSpec {
  return {
    id,
    version: 'v1',
    sourceQueue: QUEUE,
    targetQueue: QUEUE,
    start: at(4),
    batch: { maxRows: 10, maxWaitMs: 10, maxInFlight: 4 },
    tables: [],
    consistency: 'binlog',
    continueAsNewEvery: 1000,
    load: { mode: 'atomic', parallelism: 1, onError: 'halt' },
    stage: { type: 'local', dir: '/nonexistent' },
  } as unknown as PipelineSpec;
}

async function start(id: string, sc: Omit<Scenario, 'commits' | 'fixed'>) {
  scenarios.set(id, { ...sc, fixed: false, commits: [] });
  return client.workflow.start('pipelineWorkflow', { workflowId: `seaotter-pipeline-${id}`, taskQueue: QUEUE, args: [{ spec: specOf(id) }] });
}

const status = (id: string): Promise<PipelineStatus> => client.workflow.getHandle(`seaotter-pipeline-${id}`).query(statusQuery);

before(async () => {
  server = await startTemporalDev({ headless: true });
  const connection = await NativeConnection.connect({ address: server.address });
  client = new Client({ connection: await Connection.connect({ address: server.address }) });
  worker = await Worker.create({
    connection,
    taskQueue: QUEUE,
    activities,
    workflowBundle: { codePath: fileURLToPath(new URL('../../workflow-bundle.js', import.meta.url)) },
  });
  running = worker.run();
});

after(async () => {
  worker?.shutdown();
  await running?.catch(() => undefined);
  await server?.stop();
});

test('a halt stays though an earlier batch commits after it; resume retries the failed batch, every batch commits once, in order', async () => {
  const h = await start('clear', { failing: new Map([[2, 300]]), firstLoadMs: 2000 });
  // Batch 2 fails while batch 1 is still loading; batch 1 then commits.
  await waitFor('batch 1 committed after batch 2 failed', async () => {
    const s = await status('clear');
    return s.committedSeq === 1 && s.lastError !== null;
  }, 30_000);
  const halted = await status('clear');
  assert.equal(halted.state, 'halted', JSON.stringify(halted));
  assert.equal(halted.lastError?.seq, 2);
  assert.match(halted.lastError?.message ?? '', /transform of batch 2 refused/);
  await sleep(1000);
  assert.deepEqual(scenarios.get('clear')!.commits, [1], 'nothing after the failed batch loads while halted');

  scenarios.get('clear')!.fixed = true;
  await h.signal(resumeSignal);
  await waitFor('all four batches committed', async () => (await status('clear')).committedSeq === 4, 30_000);
  assert.deepEqual(scenarios.get('clear')!.commits, [1, 2, 3, 4]);
  assert.equal((await status('clear')).state, 'running');
});

test('two batches fail while in flight: the earlier one is shown, one resume retries both, and a stop then ends', async () => {
  const h = await start('two', { failing: new Map([[2, 300], [3, 700]]), firstLoadMs: 100 });
  await waitFor('both failures seen', async () => {
    const s = await status('two');
    return s.state === 'halted' && s.committedSeq === 1 && (await h.describe()).raw.pendingChildren?.length === 1;
  }, 30_000);
  // Batch 4 is the only child left; 2 and 3 failed, and 2, the earlier, is the error shown.
  assert.equal((await status('two')).lastError?.seq, 2);

  scenarios.get('two')!.fixed = true;
  await h.signal(resumeSignal);
  await waitFor('all four batches committed', async () => (await status('two')).committedSeq === 4, 30_000);
  assert.deepEqual(scenarios.get('two')!.commits, [1, 2, 3, 4]);

  await h.signal(stopSignal);
  const final = (await waitFor('stopped', async () => {
    const d = await h.describe();
    return d.status.name === 'COMPLETED' && d;
  }, 30_000)) && (await h.result());
  assert.equal(final.state, 'stopped');
  assert.equal(final.committedSeq, 4);
});
