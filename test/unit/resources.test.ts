/** The workers' idle limits for database sessions and S3 requests: defaults, bounds, bad values. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { s3IdleSeconds } from '../../activities/files/stores/s3-client.js';
import { sessionIdleSeconds } from '../../activities/resources.js';

test('SEAOTTER_SESSION_IDLE_SECONDS: 600 by default, whole seconds from 1, anything else refused by name', () => {
  assert.equal(sessionIdleSeconds({}), 600);
  assert.equal(sessionIdleSeconds({ SEAOTTER_SESSION_IDLE_SECONDS: '' }), 600);
  assert.equal(sessionIdleSeconds({ SEAOTTER_SESSION_IDLE_SECONDS: '5' }), 5);
  for (const bad of ['0', '-1', '1.5', 'ten', '99999999999']) {
    assert.throws(() => sessionIdleSeconds({ SEAOTTER_SESSION_IDLE_SECONDS: bad }), new RegExp(`SEAOTTER_SESSION_IDLE_SECONDS must be a whole number of seconds .*"${bad.replace('.', '\\.')}"`));
  }
});

test('SEAOTTER_S3_IDLE_SECONDS: 120 by default, whole seconds from 1 to a day, anything else refused by name', () => {
  assert.equal(s3IdleSeconds({}), 120);
  assert.equal(s3IdleSeconds({ SEAOTTER_S3_IDLE_SECONDS: '30' }), 30);
  for (const bad of ['0', '2.5', 'x', '86401']) {
    assert.throws(() => s3IdleSeconds({ SEAOTTER_S3_IDLE_SECONDS: bad }), /SEAOTTER_S3_IDLE_SECONDS must be a whole number of seconds/);
  }
});
