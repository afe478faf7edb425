// The throwaway servers every other integration test stands on.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { startMariadb } from '../../client/servers/mariadb.js';
import { isAlive } from '../../client/servers/ports.js';
import { SEARCH_ATTRIBUTES, missingSearchAttributes } from '../../client/servers/search-attributes.js';
import { startTemporalDev } from '../../client/servers/temporal-dev.js';

test('MariaDB: row binlog, 127.0.0.1 only, data survives a restart, stop ends the process', async (t) => {
  const server = await startMariadb({ name: 'servers-test', serverId: 42 });
  t.after(async () => {
    if (isAlive(server.pid)) await server.kill();
    fs.rmSync(server.dir, { recursive: true, force: true });
  });

  const conn = await server.connect();
  const [rows] = await conn.query(
    'SELECT @@binlog_format AS format, @@binlog_row_image AS image, @@binlog_row_metadata AS metadata,' +
      ' @@log_bin AS logBin, @@bind_address AS bind, @@server_id AS serverId',
  );
  assert.deepEqual((rows as object[])[0], {
    format: 'ROW', image: 'FULL', metadata: 'FULL', logBin: '1', bind: '127.0.0.1', serverId: '42', // BIGINTs as strings
  });
  const [grants] = await conn.query('SHOW GRANTS');
  assert.match(JSON.stringify(grants), /GRANT ALL PRIVILEGES ON \*\.\* TO `seaotter`@`127\.0\.0\.1`.*WITH GRANT OPTION/);
  await conn.query('CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY, v VARCHAR(10)); INSERT INTO shop.t VALUES (1, "a")');
  await conn.end();

  const firstPid = server.pid;
  await server.restart();
  assert.notEqual(server.pid, firstPid);
  assert.equal(isAlive(firstPid), false);
  const again = await server.connect();
  const [after] = await again.query('SELECT id, v FROM shop.t');
  assert.deepEqual(after, [{ id: 1, v: 'a' }]);
  await again.end();

  const pid = server.pid;
  await server.stop();
  assert.equal(isAlive(pid), false);
});

test('Temporal dev server: search attributes registered, answers after a restart', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seaotter-servers-test-'));
  const temporal = await startTemporalDev({ dbFile: path.join(dir, 'temporal.db'), logFile: path.join(dir, 'temporal.log'), headless: true });
  t.after(async () => {
    if (isAlive(temporal.pid)) await temporal.kill();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  await checkAttributes(temporal.address);
  await temporal.restart();
  await checkAttributes(temporal.address);
  const pid = temporal.pid;
  await temporal.stop();
  assert.equal(isAlive(pid), false);
});

async function checkAttributes(address: string): Promise<void> {
  const connection = await Connection.connect({ address });
  try {
    assert.deepEqual(await missingSearchAttributes(connection, 'default'), []);
    const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
    const types = Object.fromEntries(Object.keys(SEARCH_ATTRIBUTES).map((name) => [name, customAttributes?.[name]]));
    // temporal.api.enums.v1.IndexedValueType: 2 Keyword, 3 Int
    assert.deepEqual(types, { SeaotterPipeline: 2, SeaotterBatchSeq: 3, SeaotterRows: 3, SeaotterPosition: 2, SeaotterState: 2 });
    const info = await connection.workflowService.getSystemInfo({});
    assert.ok(info.capabilities);
  } finally {
    await connection.close();
  }
}
