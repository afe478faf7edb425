/** What `pipeline status` makes of a copyFiles heartbeat (client/copying.ts). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatCopying, summarize } from '../../client/copying.js';

const MIB = 1024 * 1024;

test('files done count the done prefix and the ones finished beyond it; large files show bytes sent', () => {
  const c = summarize('seaotter-batch-pics-7', {
    total: 2003,
    done: 1040,
    copied: 1000,
    skipped: 40,
    missing: 0,
    missingKeys: [],
    beyond: [[1043, 'copied'], [1044, 'skipped']],
    uploads: [[1041, { key: 'large/1.bin', uploadId: 'u', partSize: 8 * MIB, etags: ['a', 'b', 'c'], hashState: '', source: { size: 100 * MIB, sha256: 'x' } }]],
  });
  assert.deepEqual(c, { workflowId: 'seaotter-batch-pics-7', filesDone: 1042, files: 2003, largeFiles: [{ key: 'large/1.bin', bytesDone: 24 * MIB, bytes: 100 * MIB }] });
  assert.equal(formatCopying(c), 'seaotter-batch-pics-7: 1042 of 2003 files done; large/1.bin 24.0 of 100.0 MiB');
});

test('a heartbeat of an older build (no total, no uploads) still reads', () => {
  const c = summarize('seaotter-batch-p-1', { done: 5, copied: 5, skipped: 0, missing: 0, missingKeys: [] });
  assert.equal(formatCopying(c), 'seaotter-batch-p-1: 5 files done');
});
