/** Which task queue each activity of a pipeline is scheduled on (status names it when it waits). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
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
