/**
 * The binlog stream on its own thread: what goes wrong there reaches capture as it would from a
 * stream on the main thread (the error, with its code), a missing password fails at once, and
 * the thread stops when asked. Reading real binlogs through it is covered by the integration
 * tests (sync, fidelity, crash, ddl), which run with it.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { BinlogThread } from '../../activities/capture/binlog-thread.js';
import type { MysqlSourceConfig } from '../../lib/config/schema.js';

async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const source = (port: number, extra: Partial<MysqlSourceConfig> = {}) =>
  ({ type: 'mysql', host: '127.0.0.1', port, user: 'seaotter', datacenter: 'here', ...extra }) as MysqlSourceConfig;

test('an unreachable source reaches capture as an error with its code, and the thread stops', async () => {
  const errors: Error[] = [];
  let rows = 0;
  let got: () => void = () => {};
  const failed = new Promise<void>((resolve) => (got = resolve));
  const stream = new BinlogThread(
    { source: source(await closedPort()), serverId: 4242, from: { file: 'bin.000001', pos: 4 }, tables: { shop: ['orders'] } },
    {
      onRows: () => void rows++,
      onCommit: () => void rows++,
      onError: (err) => {
        errors.push(err);
        got();
      },
    },
  );
  stream.start();
  await failed;
  assert.equal(rows, 0);
  assert.ok(errors[0] instanceof Error);
  assert.equal((errors[0] as Error & { code?: string }).code, 'ECONNREFUSED', errors[0].message);
  assert.match(errors[0].stack ?? '', /ECONNREFUSED/);
  const began = Date.now();
  await stream.stop();
  assert.ok(Date.now() - began < 3500, `stop took ${Date.now() - began} ms`);
  // Stopping twice is the same stop.
  await stream.stop();
});

test('a password variable that is not set fails when the stream is made, naming it', () => {
  delete process.env.SEAOTTER_TEST_UNSET_PW;
  assert.throws(
    () => new BinlogThread({ source: source(3306, { passwordEnv: 'SEAOTTER_TEST_UNSET_PW' }), serverId: 4242, from: { gtid: '' }, tables: {} }, { onRows() {}, onCommit() {}, onError() {} }),
    /SEAOTTER_TEST_UNSET_PW/,
  );
});
