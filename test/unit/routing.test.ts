/** Which task queue each activity of a pipeline is scheduled on, and how status names a task waiting there. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatWaiting } from '../../client/waiting.js';
import { activityQueue, datacenterOf } from '../../lib/routing.js';

const queues = { sourceQueue: 'seaotter.hz', targetQueue: 'seaotter.us' };

test('activities run at the source or the target datacenter', () => {
  const cases: Array<[string, string]> = [
    ['captureBinlog', 'seaotter.hz'],
    ['extractBatch', 'seaotter.hz'],
    ['transformBatch', 'seaotter.hz'],
    ['copyFiles', 'seaotter.us'],
    ['loadBatch', 'seaotter.us'],
  ];
  for (const [activity, queue] of cases) assert.equal(activityQueue(activity, queues), queue, activity);
});

test('the datacenter of a task queue', () => {
  assert.equal(datacenterOf('seaotter.us'), 'us');
  assert.equal(datacenterOf('seaotter.eu.west'), 'eu.west');
});

test('a waiting task, as status prints it', () => {
  const base = { workflowId: 'seaotter-batch-orders-3', task: 'loadBatch', taskQueue: 'seaotter.us', waitingSeconds: 12.4 };
  const cases: Array<[typeof base & { pollers: number }, string]> = [
    [{ ...base, pollers: 0 }, 'loadBatch of seaotter-batch-orders-3 waits on seaotter.us for 12 s: no worker polling seaotter.us (start one: seaotter worker --dc us)'],
    [{ ...base, pollers: 2 }, 'loadBatch of seaotter-batch-orders-3 waits on seaotter.us for 12 s: 2 worker(s) polling, all busy'],
    [
      { ...base, workflowId: 'seaotter-pipeline-orders', task: 'workflow task', taskQueue: 'seaotter.hz', pollers: 0 },
      'seaotter-pipeline-orders (its workflow task) waits on seaotter.hz for 12 s: no worker polling seaotter.hz (start one: seaotter worker --dc hz)',
    ],
  ];
  for (const [w, want] of cases) assert.equal(formatWaiting(w), want);
});
