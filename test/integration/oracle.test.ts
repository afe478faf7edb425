/**
 * The integration cases against a live Oracle target, run when SEAOTTER_ORACLE_URL is set
 * (`user/password@host:port/service`); without it every case reports itself skipped with the
 * reason. Target tables are created from `seaotter schema` output; afterwards the target equals
 * the source value for value, nothing is applied twice across a killed worker, a refused row
 * halts the pipeline, and `onError: skip` dead-letters it.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Connection } from 'mysql2/promise';
import oracledb from 'oracledb';
import { pipelineStatus } from '../../client/pipeline-commands.js';
import { Cluster, waitFor } from '../support/cluster.js';

const URL_ENV = 'SEAOTTER_ORACLE_URL';
const url = process.env[URL_ENV];
const skip = url ? false : `${URL_ENV} is not set (user/password@host:port/service); no Oracle server can run here`;

/** `user/password@host:port/service` → connection attributes. */
export function parseOracleUrl(text: string): { user: string; password: string; connectString: string } {
  const m = /^([^/@]+)\/([^@]*)@(.+)$/.exec(text);
  if (!m) throw new Error(`${URL_ENV} must look like user/password@host:port/service`);
  return { user: m[1], password: m[2], connectString: m[3] };
}

const TABLES = ['orders', 'items'];
const TYPES = `CREATE TABLE ora.types (id INT PRIMARY KEY, biu BIGINT UNSIGNED, d DECIMAL(30,10), dtm DATETIME(6), dt DATE,
  vb VARBINARY(50), bl BLOB, js JSON, b BIT(8), en ENUM('a','b c'), tx TEXT) DEFAULT CHARSET = utf8mb4`;

let cluster: Cluster;
let src: Connection;
let ora: oracledb.Connection;
let owner: string;

before(async () => {
  if (!url) return;
  const attrs = parseOracleUrl(url);
  owner = attrs.user.toUpperCase();
  ora = await oracledb.getConnection(attrs);
  cluster = await Cluster.start({ name: 'oracle' });
  src = await cluster.source.connect();
  await src.query('CREATE DATABASE ora');
  for (const t of TABLES) await src.query(`CREATE TABLE ora.${t} (id INT PRIMARY KEY, qty INT NOT NULL, note VARCHAR(100), price DECIMAL(12,2), updated DATETIME(6))`);
  await src.query(TYPES);
  await src.query('CREATE TABLE ora.h (id INT PRIMARY KEY, v VARCHAR(50))');
  await src.query('CREATE TABLE ora.s (id INT PRIMARY KEY, v VARCHAR(50))');
  process.env.ORA_PW = attrs.password;
  const ds = cluster.dataSourcesYaml().replace('\nstage:', `\n  ora: { type: oracle, connectString: "${attrs.connectString}", user: ${attrs.user}, passwordEnv: ORA_PW, datacenter: hz }\nstage:`);
  const rule = (t: string) => `      - source: ora.${t}\n        target: ${owner}.SO_${t.toUpperCase()}`;
  await cluster.writeConfig(`${ds}
pipelines:
  - id: ora-main
    source: src
    target: ora
    tables:
${[...TABLES, 'types'].map(rule).join('\n')}
    batch: { maxRows: 300, maxWaitMs: 50 }
  - id: ora-halts
    source: src
    target: ora
    tables:
${rule('h')}
  - id: ora-skips
    source: src
    target: ora
    tables:
${rule('s')}
    load: { onError: skip }
`);
  for (const t of [...TABLES, 'types', 'h', 's']) await dropTable(`SO_${t.toUpperCase()}`);
  await ora.execute(`BEGIN EXECUTE IMMEDIATE 'DELETE FROM "${owner}"."SEAOTTER_CHECKPOINT" WHERE "PIPELINE" LIKE ''ora-%'''; COMMIT; EXCEPTION WHEN OTHERS THEN IF SQLCODE != -942 THEN RAISE; END IF; END;`);
  for (const id of ['ora-main', 'ora-halts', 'ora-skips']) {
    const script = await cluster.cliOk(['schema', '--config', cluster.configPath, '--pipeline', id]);
    for (const s of script.split('\n').filter((l) => !l.startsWith('--')).join('\n').split(/;\n/).map((x) => x.trim()).filter(Boolean)) await ora.execute(s);
  }
  // The halting pipeline's target column is narrower than the source's.
  await ora.execute(`ALTER TABLE "${owner}"."SO_H" MODIFY ("v" VARCHAR2(5 CHAR))`);
  await ora.execute(`ALTER TABLE "${owner}"."SO_S" MODIFY ("v" VARCHAR2(5 CHAR))`);
  cluster.startWorker();
  await cluster.cliOk(['pipeline', 'apply', '--config', cluster.configPath]);
});

after(async () => {
  await src?.end();
  await ora?.close().catch(() => undefined);
  await cluster?.close();
});

async function dropTable(table: string): Promise<void> {
  await ora.execute(`BEGIN EXECUTE IMMEDIATE 'DROP TABLE "${owner}"."${table}" PURGE'; EXCEPTION WHEN OTHERS THEN IF SQLCODE != -942 THEN RAISE; END IF; END;`);
}

async function oraRows(sql: string, fetchInfo?: oracledb.ExecuteOptions['fetchInfo']): Promise<unknown[][]> {
  const r = await ora.execute<unknown[]>(sql, [], { fetchInfo });
  return (r.rows ?? []).map((row) => row.map((v) => (Buffer.isBuffer(v) ? v.toString('hex') : v)));
}

async function srcRows(sql: string): Promise<unknown[][]> {
  const [rows] = await src.query({ sql, rowsAsArray: true });
  return (rows as unknown[][]).map((row) => row.map((v) => (Buffer.isBuffer(v) ? v.toString('hex') : v)));
}

const ordersSrc = (t: string) => `SELECT id, qty, note, CAST(price AS CHAR), DATE_FORMAT(updated, '%Y-%m-%d %H:%i:%s.%f') FROM ora.${t} ORDER BY id`;
const ordersOra = (t: string) =>
  `SELECT "id", "qty", "note", TO_CHAR("price", 'FM9999999999990.00'), TO_CHAR("updated", 'YYYY-MM-DD HH24:MI:SS.FF6') FROM "${owner}"."SO_${t.toUpperCase()}" ORDER BY "id"`;

async function assertTablesEqual(): Promise<void> {
  for (const t of TABLES) {
    const want = JSON.stringify(await srcRows(ordersSrc(t)));
    await waitFor(`${t} in sync on Oracle`, async () => JSON.stringify(await oraRows(ordersOra(t))) === want, 180_000, 500);
  }
}

test('random transactions with key changes and deletes arrive exactly; the checkpoint matches', { skip }, async () => {
  let seed = 7;
  const rand = () => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32);
  const live = new Map<string, number[]>(TABLES.map((t) => [t, []]));
  let nextId = 1;
  for (let tx = 0; tx < 150; tx++) {
    await src.query('BEGIN');
    for (let i = 0; i < 1 + Math.floor(rand() * 5); i++) {
      const t = TABLES[Math.floor(rand() * TABLES.length)];
      const ids = live.get(t)!;
      const r = rand();
      const k = Math.floor(rand() * ids.length);
      if (r < 0.5 || ids.length < 3) {
        const id = nextId++;
        await src.query(`INSERT INTO ora.${t} VALUES (?, ?, ?, ?, NOW(6))`, [id, Math.floor(rand() * 100), `n${id} ü😀`, (rand() * 1000).toFixed(2)]);
        ids.push(id);
      } else if (r < 0.75) {
        await src.query(`UPDATE ora.${t} SET qty = qty + 1, note = CONCAT(note, 'u'), price = NULL, updated = NOW(6) WHERE id = ?`, [ids[k]]);
      } else if (r < 0.85) {
        const id = nextId++;
        await src.query(`UPDATE ora.${t} SET id = ? WHERE id = ?`, [id, ids[k]]);
        ids[k] = id;
      } else {
        await src.query(`DELETE FROM ora.${t} WHERE id = ?`, [ids[k]]);
        ids.splice(k, 1);
      }
    }
    await src.query('COMMIT');
  }
  await assertTablesEqual();
  const status = await pipelineStatus(cluster.client, 'ora-main');
  assert.equal(status.state, 'running');
  const cp = await ora.execute<[number]>(`SELECT "SEQ" FROM "${owner}"."SEAOTTER_CHECKPOINT" WHERE "PIPELINE" = 'ora-main'`);
  assert.equal(Number(cp.rows![0][0]), status.committedSeq, 'checkpoint seq = committed seq');
});

test('values arrive exact: unsigned BIGINT, DECIMAL, microseconds, bytes, JSON, BIT, long text', { skip }, async () => {
  const long = 'é'.repeat(3000); // 6000 bytes: a CLOB bind
  await src.query(
    `INSERT INTO ora.types VALUES
      (1, 18446744073709551615, -12345678901234567890.0123456789, '2024-02-29 23:59:59.123456', '1999-12-31', UNHEX('00ff10'), UNHEX(REPEAT('ab', 3000)), '{"a": [1, "é"], "b": null}', b'10000001', 'b c', ?),
      (2, 0, 0.0000000001, '1970-01-01 00:00:00.000001', '2038-01-19', UNHEX('01'), UNHEX('02'), '[]', b'0', 'a', 'short'),
      (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
    [long],
  );
  await src.query("UPDATE ora.types SET dtm = '2001-01-01 01:01:01.999999', biu = 9007199254740993 WHERE id = 2");
  const want = await srcRows(
    `SELECT id, CAST(biu AS CHAR), CAST(d AS CHAR), DATE_FORMAT(dtm, '%Y-%m-%d %H:%i:%s.%f'), DATE_FORMAT(dt, '%Y-%m-%d'), vb, bl, CONCAT(js), CAST(b + 0 AS CHAR), en, tx FROM ora.types ORDER BY id`,
  );
  const sql =
    `SELECT "id", TO_CHAR("biu"), TO_CHAR("d", 'FM99999999999999999990.0000000000'), TO_CHAR("dtm", 'YYYY-MM-DD HH24:MI:SS.FF6'), TO_CHAR("dt", 'YYYY-MM-DD'),` +
    ` "vb", "bl" AS BL, "js" AS JS, TO_CHAR("b"), "en", "tx" AS TX FROM "${owner}"."SO_TYPES" ORDER BY "id"`;
  const info = { BL: { type: oracledb.BUFFER }, JS: { type: oracledb.STRING }, TX: { type: oracledb.STRING } };
  await waitFor('types on Oracle', async () => (await oraRows(sql, info)).length === 3 && JSON.stringify(await oraRows(sql, info)) === JSON.stringify(want), 120_000, 500);
});

test('exactly once across a killed worker: nothing lost, nothing applied twice', { skip }, async () => {
  // Rows from 2000000 on are insert-only on the source: an UPDATE of one on the target is a batch
  // applied twice, which the trigger records.
  await dropTable('SO_DUPS');
  await ora.execute(`CREATE TABLE "${owner}"."SO_DUPS" ("id" NUMBER)`);
  await ora.execute(
    `CREATE OR REPLACE TRIGGER "${owner}"."SO_ORDERS_TWICE" BEFORE UPDATE ON "${owner}"."SO_ORDERS" FOR EACH ROW WHEN (OLD."id" >= 2000000)` +
      ` BEGIN INSERT INTO "${owner}"."SO_DUPS" VALUES (:OLD."id"); END;`,
  );
  await src.query('INSERT INTO ora.orders VALUES (1000000, 0, NULL, NULL, NULL)');
  let n = 0;
  let running = true;
  const load = (async () => {
    while (running) {
      await src.query('BEGIN');
      await src.query('INSERT INTO ora.orders VALUES (?, 1, ?, 1.00, NOW(6))', [2000000 + n, `w${n}`]);
      await src.query('UPDATE ora.orders SET qty = qty + 1 WHERE id = 1000000');
      await src.query('COMMIT');
      n++;
      await new Promise((r) => setTimeout(r, 2));
    }
  })();
  await waitFor('some load', async () => n > 50, 60_000);
  await cluster.killWorker(cluster.workers[0]);
  await new Promise((r) => setTimeout(r, 1000));
  cluster.startWorker();
  await waitFor('more load', async () => n > 150, 60_000);
  running = false;
  await load;
  await assertTablesEqual();
  const qty = await ora.execute<[number]>(`SELECT "qty" FROM "${owner}"."SO_ORDERS" WHERE "id" = 1000000`);
  assert.equal(Number(qty.rows![0][0]), n, 'the counter row saw every increment');
  const dups = await ora.execute<[number]>(`SELECT COUNT(*) FROM "${owner}"."SO_DUPS"`);
  assert.equal(Number(dups.rows![0][0]), 0, 'no row applied twice');
});

test('a row Oracle refuses halts its pipeline with the statement visible', { skip }, async () => {
  await src.query("INSERT INTO ora.h VALUES (1, 'ok'), (2, 'much too long for the target')");
  const halted = await waitFor('halted', async () => {
    const s = await pipelineStatus(cluster.client, 'ora-halts');
    return s.state === 'halted' ? s : null;
  }, 120_000, 500);
  assert.match(halted.lastError!.message, /ORA-12899|value too large/);
  assert.match(halted.lastError!.message, /MERGE INTO "[^"]+"\."SO_H"/);
  assert.deepEqual(await oraRows(`SELECT "id" FROM "${owner}"."SO_H"`), [], 'nothing of the refused batch applied');
});

test('onError: skip dead-letters the refused row and applies the rest', { skip }, async () => {
  await src.query("INSERT INTO ora.s VALUES (1, 'a'), (2, 'this one is far too long'), (3, 'c')");
  const want = JSON.stringify([[1, 'a'], [3, 'c']]);
  await waitFor('rows 1 and 3', async () => JSON.stringify(await oraRows(`SELECT "id", "v" FROM "${owner}"."SO_S" ORDER BY "id"`)) === want, 120_000, 500);
  await waitFor('dead-letter count', async () => (await pipelineStatus(cluster.client, 'ora-skips')).deadLettered === 1);
});
