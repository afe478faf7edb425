/**
 * Column features on real servers, three pipelines on one cluster:
 * - `sharded`: shop.order_0 … order_7 merged into one target table (key: the shard's table name,
 *   a derived column, plus id), a column renamed, one excluded, a constant column, a row filter;
 *   random writes that move rows in and out of the filter, change keys and delete. The target
 *   holds exactly what a UNION ALL over the shards computes on the source. A source table no
 *   rule matches is ignored.
 * - `fields` (mode: field, a column group): target values the source's updates do not touch
 *   survive them — columns tampered with on the target stay tampered unless an update (or its
 *   group) writes them.
 * - `bq` (consistency: backQuery): ends equal to the source under concurrent writers, and
 *   carries changes the binlog never saw (made with sql_log_bin=0) because it re-reads rows.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Connection } from 'mysql2/promise';
import { pipelineStatus } from '../../client/pipeline-commands.js';
import { checksum, Cluster, dumpTable, waitFor } from '../support/cluster.js';
import { retryDeadlocks } from '../support/deadlock.js';
import { prng } from '../support/prng.js';

const SHARDS = 8;
const CUSTOMER_SHARDS = 4;
const STATUSES = ['new', 'paid', 'shipped', 'cancelled'];

let cluster: Cluster;
let src: Connection;
let dst: Connection;

async function rows(c: Connection, sql: string): Promise<unknown[][]> {
  const [r] = await c.query({ sql, rowsAsArray: true });
  return r as unknown[][];
}

/** What merged.orders must hold, computed by the source: every shard, filtered, renamed, with the derived columns. */
const EXPECTED_ORDERS = `SELECT * FROM (${Array.from(
  { length: SHARDS },
  (_, n) => `SELECT 'order_${n}' AS shard, id, buyer AS buyer_id, status, amount, 'hz' AS region FROM shop.order_${n} WHERE status IN ('paid','shipped')`,
).join(' UNION ALL ')}) u ORDER BY shard, id`;
const ACTUAL_ORDERS = 'SELECT shard, id, buyer_id, status, amount, region FROM merged.orders ORDER BY shard, id';

const CUSTOMERS_SOURCE = `SELECT * FROM (${Array.from(
  { length: CUSTOMER_SHARDS },
  (_, n) => `SELECT 'customer_${n}' AS shard, id, name, nickname, street, city, score FROM shop.customer_${n}`,
).join(' UNION ALL ')}) u ORDER BY shard, id`;
const CUSTOMERS_TARGET = 'SELECT shard, id, name, nickname, street, city, score, loyalty FROM merged.customers ORDER BY shard, id';

before(async () => {
  cluster = await Cluster.start({ name: 'columns' });
  src = await cluster.source.connect();
  dst = await cluster.target.connect();
  await src.query('CREATE DATABASE shop');
  for (let n = 0; n < SHARDS; n++) {
    await src.query(`CREATE TABLE shop.order_${n} (id INT PRIMARY KEY, buyer VARCHAR(40), status ENUM('new','paid','shipped','cancelled'),
      amount DECIMAL(10,2), internal_note VARCHAR(50))`);
  }
  for (let n = 0; n < CUSTOMER_SHARDS; n++) {
    await src.query(`CREATE TABLE shop.customer_${n} (id INT PRIMARY KEY, name VARCHAR(40), nickname VARCHAR(40), street VARCHAR(40),
      city VARCHAR(40), score INT, secret VARCHAR(20))`);
  }
  await src.query('CREATE TABLE shop.other (id INT PRIMARY KEY, v INT)');
  await dst.query('CREATE DATABASE merged');
  await dst.query(`CREATE TABLE merged.orders (shard VARCHAR(20) NOT NULL, id INT NOT NULL, buyer_id VARCHAR(40),
    status ENUM('new','paid','shipped','cancelled'), amount DECIMAL(10,2), region VARCHAR(10), PRIMARY KEY (shard, id))`);
  await dst.query(`CREATE TABLE merged.customers (shard VARCHAR(20) NOT NULL, id INT NOT NULL, name VARCHAR(40), nickname VARCHAR(40),
    street VARCHAR(40), city VARCHAR(40), score INT, loyalty INT NOT NULL DEFAULT 0, PRIMARY KEY (shard, id))`);
  for (const c of [src, dst]) {
    await c.query('CREATE DATABASE IF NOT EXISTS bq');
    await c.query('CREATE TABLE bq.items (id INT PRIMARY KEY, v INT NOT NULL, n VARCHAR(40))');
  }
  const out = await cluster.runPipelines(`pipelines:
  - id: sharded
    source: src
    target: dst
    tables:
      - source: "shop\\\\.order_\\\\d+"
        target: merged.orders
        columns:
          exclude: [internal_note]
          rename: { buyer: buyer_id }
          add: { shard: { source: table }, region: { value: hz } }
        where: { status: { in: [paid, shipped] } }
    batch: { maxRows: 40, maxWaitMs: 20 }
  - id: fields
    source: src
    target: dst
    mode: field
    tables:
      - source: "shop\\\\.customer_\\\\d"
        target: merged.customers
        columns:
          exclude: [secret]
          groups: [[street, city]]
          add: { shard: { source: table } }
  - id: bq
    source: src
    target: dst
    consistency: backQuery
    tables:
      - source: bq.items
    batch: { maxRows: 30, maxWaitMs: 20 }
`);
  for (const id of ['sharded', 'fields', 'bq']) assert.match(out, new RegExp(`${id}: started`));
});

after(async () => {
  await src?.end();
  await dst?.end();
  await cluster?.close();
});

test('eight shards merge into one target table: renamed, excluded, derived columns and a filter, exactly as UNION ALL computes', async () => {
  const rand = prng(11);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  const live: Set<number>[] = Array.from({ length: SHARDS }, () => new Set());
  const nextId = Array.from({ length: SHARDS }, () => 1);
  // Capture is running once a first row arrives.
  await src.query("INSERT INTO shop.order_0 VALUES (1, 'warm', 'paid', 1, 'x')");
  live[0].add(1);
  nextId[0] = 2;
  await waitFor('capture running', async () => (await rows(dst, ACTUAL_ORDERS)).length === 1, 60_000);
  let statements = 0;
  for (let tx = 0; tx < 200; tx++) {
    if (tx % 10 === 0) await new Promise((r) => setTimeout(r, 20));
    await src.query('BEGIN');
    for (let i = 1 + Math.floor(rand() * 4); i > 0; i--, statements++) {
      const n = Math.floor(rand() * SHARDS);
      const t = `shop.order_${n}`;
      const ids = live[n];
      const r = rand();
      if (r < 0.35 || ids.size < 2) {
        // Ids repeat across shards on purpose: the target key is (shard, id).
        const id = nextId[n]++;
        await src.query(`INSERT INTO ${t} VALUES (?, ?, ?, ?, ?)`, [id, `buyer${id % 7}`, pick(STATUSES), (rand() * 1000).toFixed(2), `note ${id}`]);
        ids.add(id);
        continue;
      }
      const id = pick([...ids]);
      if (r < 0.65) await src.query(`UPDATE ${t} SET status = ? WHERE id = ?`, [pick(STATUSES), id]);
      else if (r < 0.75) await src.query(`UPDATE ${t} SET buyer = CONCAT(buyer, '+'), amount = amount + 1 WHERE id = ?`, [id]);
      else if (r < 0.8) await src.query(`UPDATE ${t} SET internal_note = CONCAT(COALESCE(internal_note, ''), 'x') WHERE id = ?`, [id]);
      else if (r < 0.9) {
        const to = nextId[n]++;
        await src.query(`UPDATE ${t} SET id = ?, status = ? WHERE id = ?`, [to, pick(STATUSES), id]);
        ids.delete(id);
        ids.add(to);
      } else {
        await src.query(`DELETE FROM ${t} WHERE id = ?`, [id]);
        ids.delete(id);
      }
    }
    // A table no rule matches: ignored, never an error.
    if (tx % 25 === 0) await src.query('INSERT INTO shop.other VALUES (?, ?)', [tx, tx]);
    await src.query('COMMIT');
  }
  // Multi-row statements moving many rows across the filter at once, in several shards.
  await src.query("UPDATE shop.order_3 SET status = 'paid' WHERE status = 'new'");
  await src.query("UPDATE shop.order_5 SET status = 'cancelled' WHERE status = 'shipped'");
  statements += 2;

  const want = JSON.stringify(await rows(src, EXPECTED_ORDERS));
  await waitFor('merged.orders equals the UNION ALL of the shards', async () => JSON.stringify(await rows(dst, ACTUAL_ORDERS)) === want, 120_000);
  const expected = await rows(src, EXPECTED_ORDERS);
  const shards = new Set(expected.map((r) => r[0]));
  const [[total]] = await rows(src, `SELECT ${Array.from({ length: SHARDS }, (_, n) => `(SELECT COUNT(*) FROM shop.order_${n})`).join('+')}`);
  assert.ok(shards.size === SHARDS, `rows from every shard: ${[...shards].join(', ')}`);
  assert.ok(expected.length > 20 && expected.length < Number(total), `a real filter: ${expected.length} of ${total} rows pass`);
  const ids = expected.map((r) => r[1]);
  assert.ok(new Set(ids).size < ids.length, 'ids repeat across shards, kept apart by the derived shard column');
  const [[others]] = await rows(dst, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_NAME = 'other'");
  assert.equal(Number(others), 0, 'the unmatched table was not touched on the target');
  const status = await pipelineStatus(cluster.client, 'sharded');
  assert.equal(status.state, 'running');
  assert.equal(status.lastError, null);
  console.log(`${statements} statements over ${SHARDS} shards; ${expected.length} of ${total} rows on the target; ${status.committedSeq} batches`);
});

test('field mode: updates write only their changed columns and groups; target values elsewhere survive', async () => {
  const rand = prng(5);
  const keys: [number, number][] = [];
  await src.query('BEGIN');
  for (let n = 0; n < CUSTOMER_SHARDS; n++) {
    for (let id = 1; id <= 15; id++) {
      await src.query(`INSERT INTO shop.customer_${n} VALUES (?, ?, ?, ?, ?, ?, ?)`, [id, `name${n}-${id}`, `nick${id}`, `street ${id}`, `city ${n}`, id * 10, 's']);
      keys.push([n, id]);
    }
  }
  await src.query('COMMIT');
  const whole = async () => JSON.stringify((await rows(src, CUSTOMERS_SOURCE)).map((r) => [...r, 0]));
  await waitFor('customers inserted whole', async () => JSON.stringify(await rows(dst, CUSTOMERS_TARGET)) === (await whole()), 60_000);

  // The target's own edits: row mode would overwrite nickname, street and city with the next update.
  await dst.query("UPDATE merged.customers SET nickname = CONCAT('t-', nickname), street = 'T-street', city = 'T-city', loyalty = id");
  const streetWritten = new Set<string>();
  const inserted = new Set<string>();
  const k = (n: number, id: number) => `customer_${n}/${id}`;
  for (let i = 0; i < 120; i++) {
    const [n, id] = keys[Math.floor(rand() * keys.length)];
    const t = `shop.customer_${n}`;
    const r = rand();
    await src.query('BEGIN');
    if (r < 0.35) await src.query(`UPDATE ${t} SET score = score + 1 WHERE id = ?`, [id]);
    else if (r < 0.55) {
      await src.query(`UPDATE ${t} SET street = CONCAT('new ', ?) WHERE id = ?`, [i, id]);
      streetWritten.add(k(n, id));
    } else if (r < 0.75) {
      // Two updates of one row in one transaction: merged into one update of both columns (and the group).
      await src.query(`UPDATE ${t} SET score = score + 100 WHERE id = ?`, [id]);
      await src.query(`UPDATE ${t} SET city = CONCAT('moved ', ?) WHERE id = ?`, [i, id]);
      streetWritten.add(k(n, id));
    } else if (r < 0.9) {
      // Only an excluded column changes: nothing to write on the target.
      await src.query(`UPDATE ${t} SET secret = CONCAT(secret, 'x') WHERE id = ?`, [id]);
    } else if (r < 0.95) {
      await src.query(`DELETE FROM ${t} WHERE id = ?`, [id]);
      keys.splice(keys.findIndex(([a, b]) => a === n && b === id), 1);
    } else {
      const fresh = 100 + i;
      await src.query(`INSERT INTO ${t} VALUES (?, 'fresh', 'nick', 'street', 'city', 0, 's')`, [fresh]);
      keys.push([n, fresh]);
      inserted.add(k(n, fresh));
    }
    await src.query('COMMIT');
  }
  // Statements updating many rows: one multi-row UPDATE per column set on the target (key: shard, id).
  await src.query('UPDATE shop.customer_0 SET score = score + 1');
  await src.query("UPDATE shop.customer_1 SET street = CONCAT(street, '!') WHERE id % 2 = 0");
  for (const [n, id] of keys) if (n === 1 && id % 2 === 0) streetWritten.add(k(n, id));
  const expected = async () =>
    JSON.stringify(
      (await rows(src, CUSTOMERS_SOURCE)).map(([shard, id, name, nickname, street, city, score]) => {
        const key = `${shard}/${id}`;
        if (inserted.has(key)) return [shard, id, name, nickname, street, city, score, 0];
        const group = streetWritten.has(key);
        return [shard, id, name, `t-${nickname}`, group ? street : 'T-street', group ? city : 'T-city', score, id];
      }),
    );
  const want = await expected();
  await waitFor('customers: changed columns written, the rest left as the target had them', async () => JSON.stringify(await rows(dst, CUSTOMERS_TARGET)) === want, 90_000);
  const [[kept]] = await rows(dst, "SELECT COUNT(*) FROM merged.customers WHERE street = 'T-street'");
  assert.ok(Number(kept) > 0 && streetWritten.size > 0 && inserted.size > 0, `both kinds present: ${kept} untouched streets, ${streetWritten.size} written`);
  assert.equal((await pipelineStatus(cluster.client, 'fields')).lastError, null);
});

test('backQuery: equal to the source under concurrent writers', async () => {
  await src.query(`INSERT INTO bq.items VALUES ${Array.from({ length: 60 }, (_, i) => `(${i + 1}, 0, 'start')`).join(',')}`);
  // One transaction of 1200 rows is one batch: its re-read takes several chunked SELECTs.
  await src.query(`INSERT INTO bq.items VALUES ${Array.from({ length: 1200 }, (_, i) => `(${5000 + i}, ${i}, 'bulk')`).join(',')}`);
  await src.query("UPDATE bq.items SET v = v + 1, n = 'bulk updated' WHERE id >= 5000 AND id % 3 = 0");
  const writers = await Promise.all([1, 2, 3].map(() => cluster.source.connect()));
  let nextId = 1000;
  await Promise.all(
    writers.map(async (c, w) => {
      const rand = prng(100 + w);
      for (let i = 0; i < 150; i++) {
        const id = 1 + Math.floor(rand() * 70);
        const r = rand();
        if (r < 0.6) await retryDeadlocks(() => c.query('UPDATE bq.items SET v = v + 1, n = ? WHERE id = ?', [`w${w}-${i}`, id]));
        else if (r < 0.75) await retryDeadlocks(() => c.query('INSERT INTO bq.items VALUES (?, 0, ?) ON DUPLICATE KEY UPDATE v = v + 10', [id, `ins w${w}`]));
        else if (r < 0.85) await retryDeadlocks(() => c.query('DELETE FROM bq.items WHERE id = ?', [id]));
        else {
          const to = nextId++;
          await retryDeadlocks(() => c.query('UPDATE bq.items SET id = ? WHERE id = ?', [to, id]));
        }
      }
    }),
  );
  await Promise.all(writers.map((c) => c.end()));
  const want = JSON.stringify(await dumpTable(src, 'bq.items'));
  await waitFor('bq.items in sync', async () => JSON.stringify(await dumpTable(dst, 'bq.items')) === want, 90_000);
  assert.equal(await checksum(dst, 'bq.items'), await checksum(src, 'bq.items'));
});

test('backQuery: the target gets the row as the source holds it when the batch is extracted, even changes the binlog never saw', async () => {
  const [[x], [y]] = await rows(src, 'SELECT id FROM bq.items ORDER BY id LIMIT 2');
  // With the worker stopped, the binlog holds an update of each row; then, invisible to the
  // binlog, x changes again and y is deleted. Binlog images alone would leave both stale.
  await cluster.stopWorker(cluster.workers[0]);
  await src.query("UPDATE bq.items SET v = 5000, n = 'binlog' WHERE id IN (?, ?)", [x, y]);
  const hidden = await cluster.source.connect();
  await hidden.query('SET SESSION sql_log_bin = 0');
  await hidden.query("UPDATE bq.items SET n = 'not in the binlog' WHERE id = ?", [x]);
  await hidden.query('DELETE FROM bq.items WHERE id = ?', [y]);
  await hidden.end();
  cluster.startWorker();
  const want = JSON.stringify(await dumpTable(src, 'bq.items'));
  await waitFor('bq.items re-read', async () => JSON.stringify(await dumpTable(dst, 'bq.items')) === want, 120_000);
  const [[n]] = await rows(dst, `SELECT n FROM bq.items WHERE id = ${Number(x)}`);
  assert.equal(n, 'not in the binlog');
  assert.equal((await rows(dst, `SELECT id FROM bq.items WHERE id = ${Number(y)}`)).length, 0);
  assert.equal((await pipelineStatus(cluster.client, 'bq')).lastError, null);
});
