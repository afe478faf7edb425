/** The workers' database session idle limit (SEAOTTER_SESSION_IDLE_SECONDS): default, bounds, bad values. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sessionIdleSeconds } from '../../activities/resources.js';

test('SEAOTTER_SESSION_IDLE_SECONDS: 600 by default, whole seconds from 1, anything else refused by name', () => {
  assert.equal(sessionIdleSeconds({}), 600);
  assert.equal(sessionIdleSeconds({ SEAOTTER_SESSION_IDLE_SECONDS: '' }), 600);
  assert.equal(sessionIdleSeconds({ SEAOTTER_SESSION_IDLE_SECONDS: '5' }), 5);
  for (const bad of ['0', '-1', '1.5', 'ten', '99999999999']) {
    assert.throws(() => sessionIdleSeconds({ SEAOTTER_SESSION_IDLE_SECONDS: bad }), new RegExp(`SEAOTTER_SESSION_IDLE_SECONDS must be a whole number of seconds .*"${bad.replace('.', '\\.')}"`));
  }
});
