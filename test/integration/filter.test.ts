/**
 * Row filters and processors on real servers. Random inserts, updates (moving rows into and out
 * of the filter, changing keys) and deletes; afterwards the target holds exactly what SQL computes
 * on the source: the filtered rows, with e-mails masked by the example processor. A processor
 * that throws halts its pipeline naming the module and the row's key; fixed, resume goes on.
 * `pipeline apply` refuses a filter on an unknown column and a missing processor module.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import type { Connection } from 'mysql2/promise';
import { pipelineStatus } from '../../client/pipeline-commands.js';
import { Cluster, waitFor } from '../support/cluster.js';
import { prng } from '../support/prng.js';

const MASK_EMAIL = fileURLToPath(new URL('../../../examples/processors/mask-email.mjs', import.meta.url));
const STATUSES = ['new', 'paid', 'shipped', 'cancelled'];
const ORDERS_DDL = `CREATE TABLE shop.orders (id INT PRIMARY KEY, status ENUM('new','paid','shipped','cancelled'),
  email VARCHAR(100), amount DECIMAL(10,2))`;
const NOTES_DDL = `CREATE TABLE shop.notes (id INT PRIMARY KEY, status ENUM('new','paid','shipped','cancelled'),
  amount DECIMAL(10,2), note VARCHAR(50))`;

/** What the target must hold, computed by the source itself. */
const EXPECTED = {
  orders: `SELECT id, status, CONCAT(LEFT(email,1),'***',SUBSTRING(email, LOCATE('@',email))) AS email, amount
             FROM shop.orders WHERE status IN ('paid','shipped') AND amount >= 10 ORDER BY id`,
  notes: `SELECT id, status, amount, note FROM shop.notes WHERE NOT (status = 'cancelled' OR amount < 10) ORDER BY id`,
};
const ACTUAL = {
  orders: 'SELECT id, status, email, amount FROM shop.orders ORDER BY id',
  notes: 'SELECT id, status, amount, note FROM shop.notes ORDER BY id',
};

let cluster: Cluster;
let src: Connection;
let dst: Connection;
let failingModule: string;

async function rows(c: Connection, sql: string): Promise<string> {
  const [r] = await c.query({ sql, rowsAsArray: true });
  return JSON.stringify(r);
}

before(async () => {
  cluster = await Cluster.start({ name: 'filter' });
  src = await cluster.source.connect();
  dst = await cluster.target.connect();
  for (const c of [src, dst]) {
    await c.query('CREATE DATABASE shop');
    await c.query(ORDERS_DDL);
    await c.query(NOTES_DDL);
    await c.query('CREATE TABLE shop.fragile (id INT PRIMARY KEY, v VARCHAR(20))');
  }
  // Processors are named relative to the config file.
  await mkdir(path.join(cluster.dir, 'processors'));
  await copyFile(MASK_EMAIL, path.join(cluster.dir, 'processors', 'mask-email.mjs'));
  failingModule = path.join(cluster.dir, 'processors', 'fail-on-13.mjs');
  await writeFile(failingModule, `export default (c) => { if ((c.after ?? c.before).id === 13) throw new Error('thirteen is unlucky'); return c; };\n`);
  const out = await cluster.runPipelines(`pipelines:
  - id: filtered
    source: src
    target: dst
    start: current
    tables:
      - source: shop.orders
        where: { status: { in: [paid, shipped] }, amount: { gte: 10 } }
        processor: ./processors/mask-email.mjs
      - source: shop.notes
        where: { not: { or: [{ status: cancelled }, { amount: { lt: 10 } }] } }
    batch: { maxRows: 25, maxWaitMs: 20 }
  - id: fragile
    source: src
    target: dst
    start: current
    processor: processors/fail-on-13.mjs
    tables:
      - source: shop.fragile
`);
  assert.match(out, /filtered: started/);
  assert.match(out, /fragile: started/);
});

after(async () => {
  await src?.end();
  await dst?.end();
  await cluster?.close();
});

test('the target holds exactly the filtered source rows, e-mails masked', async () => {
  const rand = prng(7);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  const amounts = ['9.99', '10.00', '10.01', '0.00', '123.45', '99999999.99', null];
  const statuses = [...STATUSES, null];
  const emails = (id: number) => pick([`user${id}@example.com`, `Ünïcode${id}@例え.jp`, `noat${id}`, '', null, `@${id}.org`]);
  const live = { orders: new Set<number>(), notes: new Set<number>() };
  // Capture is running once a first row arrives; from then on the changes spread over many batches.
  await src.query("INSERT INTO shop.notes VALUES (0, 'paid', 50, 'warm-up')");
  await waitFor('capture running', async () => (await rows(dst, 'SELECT id FROM shop.notes')) === '[[0]]', 60_000);
  let nextId = 1;
  let statements = 0;
  for (let tx = 0; tx < 250; tx++) {
    if (tx % 10 === 0) await new Promise((r) => setTimeout(r, 30));
    await src.query('BEGIN');
    const n = 1 + Math.floor(rand() * 4);
    for (let i = 0; i < n; i++, statements++) {
      const table = rand() < 0.7 ? 'orders' : 'notes';
      const ids = live[table];
      const r = rand();
      if (r < 0.4 || ids.size < 3) {
        const id = nextId++;
        if (table === 'orders') await src.query('INSERT INTO shop.orders VALUES (?, ?, ?, ?)', [id, pick(statuses), emails(id), pick(amounts)]);
        else await src.query('INSERT INTO shop.notes VALUES (?, ?, ?, ?)', [id, pick(statuses), pick(amounts), `n${id}`]);
        ids.add(id);
        continue;
      }
      const id = pick([...ids]);
      if (r < 0.6) {
        await src.query(`UPDATE shop.${table} SET status = ? WHERE id = ?`, [pick(statuses), id]);
      } else if (r < 0.75) {
        await src.query(`UPDATE shop.${table} SET amount = ? WHERE id = ?`, [pick(amounts), id]);
      } else if (r < 0.82) {
        const col = table === 'orders' ? 'email' : 'note';
        await src.query(`UPDATE shop.${table} SET ${col} = CONCAT(COALESCE(${col}, ''), 'x'), status = ? WHERE id = ?`, [pick(statuses), id]);
      } else if (r < 0.9) {
        const to = nextId++;
        await src.query(`UPDATE shop.${table} SET id = ?, status = ? WHERE id = ?`, [to, pick(statuses), id]);
        ids.delete(id);
        ids.add(to);
      } else {
        await src.query(`DELETE FROM shop.${table} WHERE id = ?`, [id]);
        ids.delete(id);
      }
    }
    await src.query('COMMIT');
  }
  // Multi-row statements that move many rows across the filter boundary at once.
  await src.query("UPDATE shop.orders SET status = 'paid' WHERE status = 'new'");
  await src.query('UPDATE shop.notes SET amount = amount + 5 WHERE amount < 10');
  statements += 2;

  for (const t of ['orders', 'notes'] as const) {
    const want = await rows(src, EXPECTED[t]);
    await waitFor(`shop.${t} filtered`, async () => (await rows(dst, ACTUAL[t])) === want, 90_000);
  }
  const [[counts]] = (await src.query(
    `SELECT COUNT(*) AS src, SUM(status IN ('paid','shipped') AND amount >= 10) AS passing FROM shop.orders`,
  )) as unknown as [{ src: number; passing: string }[]];
  assert.ok(Number(counts.passing) > 10 && Number(counts.passing) < Number(counts.src), `a real filter: ${counts.passing} of ${counts.src} orders pass`);
  const status = await pipelineStatus(cluster.client, 'filtered');
  assert.equal(status.state, 'running');
  assert.equal(status.lastError, null);
  console.log(`${statements} statements; ${counts.passing} of ${counts.src} orders on the target; ${status.committedSeq} batches`);
});

test('a processor that throws halts its pipeline naming the module and the row key; fixed, resume goes on', async () => {
  await src.query('BEGIN');
  for (let id = 1; id <= 20; id++) await src.query('INSERT INTO shop.fragile VALUES (?, ?)', [id, `secret-${id}`]);
  await src.query('COMMIT');
  const halted = await waitFor('pipeline fragile halted', async () => {
    const s = await pipelineStatus(cluster.client, 'fragile');
    return s.state === 'halted' ? s : null;
  });
  const message = halted.lastError?.message ?? '';
  assert.ok(message.includes(failingModule), message);
  assert.match(message, /shop\.fragile row id=13: thirteen is unlucky/);
  assert.doesNotMatch(message, /secret/);
  const [[{ n }]] = (await dst.query('SELECT COUNT(*) AS n FROM shop.fragile')) as unknown as [{ n: number }[]];
  assert.equal(Number(n), 0, 'the failing batch loaded nothing');
  // The other pipeline is unaffected.
  assert.equal((await pipelineStatus(cluster.client, 'filtered')).state, 'running');

  await writeFile(failingModule, 'export default (c) => c;\n');
  await cluster.cliOk(['pipeline', 'resume', 'fragile']);
  await waitFor('shop.fragile complete', async () => (await rows(dst, 'SELECT * FROM shop.fragile ORDER BY id')) === (await rows(src, 'SELECT * FROM shop.fragile ORDER BY id')), 60_000);
  assert.equal((await pipelineStatus(cluster.client, 'fragile')).state, 'running');
});

test('pipeline apply refuses a filter on an unknown column and a missing processor; config check a bad operator', async () => {
  const file = path.join(cluster.dir, 'bad.yaml');
  await writeFile(
    file,
    `${cluster.dataSourcesYaml()}
pipelines:
  - id: badfilter
    source: src
    target: dst
    tables:
      - source: shop.orders
        where: { state: paid, or: [{ amount: { gt: 1 } }, { total: 2 }] }
      - source: shop.notes
        processor: ./processors/nope.mjs
`,
  );
  const r = await cluster.cli(['pipeline', 'apply', '--config', file]);
  assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stderr, /pipelines\.badfilter\.tables\[0\]\.where: the source table shop\.orders has no column "state"/);
  assert.match(r.stderr, /pipelines\.badfilter\.tables\[0\]\.where: the source table shop\.orders has no column "total"/);
  assert.doesNotMatch(r.stderr, /no column "amount"/);
  assert.ok(r.stderr.includes(`pipelines.badfilter.tables[1].processor: cannot read module ${path.join(cluster.dir, 'processors', 'nope.mjs')}: no such file`), r.stderr);
  await assert.rejects(cluster.client.workflow.getHandle('seaotter-pipeline-badfilter').describe(), /not found/i);

  await writeFile(
    file,
    `${cluster.dataSourcesYaml()}
pipelines:
  - id: badop
    source: src
    target: dst
    tables:
      - source: shop.orders
        where: { status: { like: "p%" }, amount: { in: [] } }
`,
  );
  const c = await cluster.cli(['config', 'check', '--config', file]);
  assert.equal(c.code, 1, c.stderr);
  assert.match(c.stderr, /pipelines\[0\]\.tables\[0\]\.where\.status\.like: unknown operator "like"/);
  assert.match(c.stderr, /pipelines\[0\]\.tables\[0\]\.where\.amount\.in: an empty "in" list/);
});
