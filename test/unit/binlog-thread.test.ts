/**
 * The binlog stream on its own thread: what goes wrong there reaches capture as it would from a
 * stream on the main thread (the error, with its code), a missing password fails at once, the
 * thread stops when asked, and rows cross exactly. Reading real binlogs through it is covered by
 * the integration tests (sync, fidelity, crash, ddl), which run with it.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { BinlogThread, flatten, unflatten } from '../../activities/capture/binlog-thread.js';
import type { MysqlSourceConfig } from '../../lib/config/schema.js';
import type { Row, RowChange } from '../../lib/model.js';

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

test('rows cross to the main thread exactly: every action, nulls, bytes as Buffers, a column named __proto__', () => {
  const bytes = Buffer.from([0, 1, 254, 255]);
  const row = (id: number, extra: Record<string, unknown> = {}) => {
    const r: Row = { id, name: `n${id}`, price: '12.50', data: bytes, note: null };
    for (const [k, v] of Object.entries(extra)) Object.defineProperty(r, k, { value: v, enumerable: true, writable: true, configurable: true });
    return r;
  };
  const cases: RowChange[][] = [
    [1, 2, 3].map((id) => ({ schema: 's', table: 't', action: 'insert', after: row(id) })),
    [1, 2].map((id) => ({ schema: 's', table: 't', action: 'update', before: row(id), after: row(id + 10) })),
    [4].map((id) => ({ schema: 's', table: 't', action: 'delete', before: row(id) })),
    [{ schema: 's', table: 'odd', action: 'insert', after: row(5, JSON.parse('{"__proto__":"x"}') as Record<string, unknown>) }],
  ];
  for (const changes of cases) {
    // What a message does to the values (Buffers become plain Uint8Arrays), then back.
    const back = unflatten(structuredClone(flatten(changes)));
    assert.deepEqual(back, changes);
    for (const c of back) for (const r of [c.before, c.after]) if (r) assert.ok(Buffer.isBuffer(r.data), 'bytes are a Buffer again');
  }
  const odd = unflatten(structuredClone(flatten(cases[3]!)))[0]!.after!;
  assert.ok(Object.hasOwn(odd, '__proto__'));
  assert.equal(odd['__proto__'], 'x');
  assert.equal(Object.getPrototypeOf(odd), Object.prototype);
});
