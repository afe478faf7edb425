/**
 * `seaotter schema` on a real MariaDB source: the MySQL-target DDL creates working target tables
 * (a pipeline then syncs into them exactly), the Oracle-target DDL maps every type as documented,
 * and `pipeline apply` with an Oracle target it cannot reach exits 2.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Connection } from 'mysql2/promise';
import { freePort } from '../../client/servers/ports.js';
import { checksum, Cluster, dumpTable, waitFor } from '../support/cluster.js';

const TYPES = `CREATE TABLE sch.all_types (
  id INT NOT NULL PRIMARY KEY, tiu TINYINT UNSIGNED, bi BIGINT, biu BIGINT UNSIGNED,
  dec10 DECIMAL(10,2), dec65 DECIMAL(65,30), f FLOAT, d DOUBLE, b1 BIT(1), b64 BIT(64),
  dt DATE, dtm DATETIME(6), ts TIMESTAMP(3) NULL DEFAULT NULL, tm TIME(6), yr YEAR,
  c CHAR(20), vc VARCHAR(300) NOT NULL, tx TEXT, bn BINARY(16), vb VARBINARY(300), bl BLOB,
  en ENUM('a','b','c d'), st SET('x','y','z'), js JSON
) DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin`;
// Mapped with a rename and an exclude, onto another schema; a unique key besides the primary key.
const PARTS = `CREATE TABLE sch.parts (shop INT NOT NULL, sku VARCHAR(40) CHARACTER SET latin1 NOT NULL, code VARCHAR(20) NOT NULL,
  secret VARCHAR(10), qty INT, PRIMARY KEY (shop, sku), UNIQUE KEY uk_code (code)) DEFAULT CHARSET = utf8mb4`;
const PIPELINE = (target: string) => `pipelines:
  - id: sch
    source: src
    target: ${target}
    start: current
    tables:
      - source: sch.all_types
      - source: sch.parts
        target: sch_us.PARTS
        columns: { exclude: [secret], rename: { qty: quantity } }
    batch: { maxRows: 500, maxWaitMs: 50 }
`;

let cluster: Cluster;
let src: Connection;
let dst: Connection;

before(async () => {
  cluster = await Cluster.start({ name: 'schema' });
  src = await cluster.source.connect();
  dst = await cluster.target.connect();
  await src.query('CREATE DATABASE sch');
  await src.query(TYPES);
  await src.query(PARTS);
});

after(async () => {
  await src?.end();
  await dst?.end();
  await cluster?.close();
});

/** The statements of a `seaotter schema` script (comment lines dropped). */
function statements(script: string): string[] {
  const body = script.split('\n').filter((l) => !l.startsWith('--')).join('\n');
  return body.split(/;\n/).map((s) => s.trim()).filter(Boolean);
}

test('MySQL target: the printed DDL creates tables that a pipeline syncs into exactly', async () => {
  await cluster.writeConfig(`${cluster.dataSourcesYaml()}\n${PIPELINE('dst')}`);
  const script = await cluster.cliOk(['schema', '--config', cluster.configPath, '--pipeline', 'sch']);
  const ddl = statements(script);
  assert.equal(ddl.length, 4, script);
  assert.match(script, /CREATE TABLE IF NOT EXISTS `sch_us`\.`PARTS` \(\n  `shop` int\(11\) NOT NULL,\n  `sku` varchar\(40\) CHARACTER SET latin1 COLLATE latin1_swedish_ci NOT NULL,/);
  assert.match(script, /`quantity` int\(11\) NULL,\n  PRIMARY KEY \(`shop`, `sku`\),\n  UNIQUE KEY `uk_code` \(`code`\)/);
  assert.doesNotMatch(script, /secret/);
  for (const s of ddl) await dst.query(s);
  // Running the script again is harmless (IF NOT EXISTS).
  for (const s of ddl) await dst.query(s);

  const out = await cluster.runPipelines(PIPELINE('dst'));
  assert.match(out, /sch: started/);
  await src.query('BEGIN');
  for (let i = 1; i <= 40; i++) {
    await src.query(
      `INSERT INTO sch.all_types VALUES (?, 255, -9223372036854775808, 18446744073709551615, -12345678.91, ?, 1.5, -2.25e300, b'1', b'1111111111111111111111111111111111111111111111111111111111111111',
        '2024-02-29', '2024-02-29 23:59:59.123456', '2038-01-19 03:14:07.999', '-838:59:59.000000', 2155,
        'ch', ?, REPEAT('t', 5000), UNHEX(REPEAT('ab', 16)), UNHEX('00ff00'), UNHEX(REPEAT('c3', 3000)), 'c d', 'x,z', '{"a": [1, "é"]}')`,
      [i, `${i}.000000000000000000000000000001`, `vc ${i} 😀`],
    );
    await src.query('INSERT INTO sch.parts VALUES (?, ?, ?, ?, ?)', [i % 3, `sku-${i}`, `code-${i}`, 'hidden', i]);
  }
  await src.query('COMMIT');
  await src.query("UPDATE sch.all_types SET vc = CONCAT(vc, ' u'), dtm = '1970-01-01 00:00:00.000001', js = NULL WHERE id % 4 = 0");
  await src.query('DELETE FROM sch.all_types WHERE id % 5 = 0');
  await src.query("UPDATE sch.parts SET sku = CONCAT(sku, '-moved'), qty = qty + 100 WHERE shop = 1");
  await src.query('DELETE FROM sch.parts WHERE shop = 2');

  const want = await dumpTable(src, 'sch.all_types');
  await waitFor('sch.all_types in sync', async () => JSON.stringify(await dumpTable(dst, 'sch.all_types')) === JSON.stringify(want), 120_000, 300).catch(async (err) => {
    const got = await dumpTable(dst, 'sch.all_types');
    const i = got.findIndex((row, k) => row !== want[k]);
    const [g, w] = [JSON.parse(got[i] ?? '[]') as unknown[], JSON.parse(want[i] ?? '[]') as unknown[]];
    const cols = w.map((v, k) => (JSON.stringify(v) === JSON.stringify(g[k]) ? '' : `column ${k}: got ${JSON.stringify(g[k])?.slice(0, 80)}, want ${JSON.stringify(v)?.slice(0, 80)}`));
    throw new Error(`${(err as Error).message}\n${got.length} rows, want ${want.length}; row ${i} differs:\n${cols.filter(Boolean).join('\n')}`);
  });
  assert.equal(want.length, 32);
  assert.equal(await checksum(dst, 'sch.all_types'), await checksum(src, 'sch.all_types'), 'CHECKSUM TABLE sch.all_types');
  const [parts] = await src.query({ sql: 'SELECT shop, sku, code, qty FROM sch.parts ORDER BY shop, sku', rowsAsArray: true });
  await waitFor('sch_us.PARTS in sync', async () => {
    const [got] = await dst.query({ sql: 'SELECT shop, sku, code, quantity FROM sch_us.PARTS ORDER BY shop, sku', rowsAsArray: true });
    return JSON.stringify(got) === JSON.stringify(parts);
  }, 120_000, 300);
  assert.equal((parts as unknown[]).length, 27);
});

test('Oracle target: every type mapped as documented, names exactly as mapped', async () => {
  const port = await freePort();
  const config = path.join(cluster.dir, 'oracle.yaml');
  const ora = `  ora: { type: oracle, connectString: "127.0.0.1:${port}/FREEPDB1", user: app, passwordEnv: ORA_PW, datacenter: hz }`;
  await writeFile(config, `${cluster.dataSourcesYaml().replace('\nstage:', `\n${ora}\nstage:`)}\n${PIPELINE('ora')}`);
  process.env.ORA_PW = 'unused: nothing listens there';
  const script = await cluster.cliOk(['schema', '--config', config, '--pipeline', 'sch']);
  const ddl = statements(script);
  assert.equal(ddl.length, 2, script);
  assert.match(script, /^-- note: names are quoted exactly as mapped; unquoted Oracle names are upper case/m, 'lower-case names come with a note');
  assert.equal(
    ddl[0],
    [
      'CREATE TABLE "sch"."all_types" (',
      '  "id" NUMBER(10) NOT NULL,',
      '  "tiu" NUMBER(3),',
      '  "bi" NUMBER(19),',
      '  "biu" NUMBER(20),',
      '  "dec10" NUMBER(10,2),',
      '  "dec65" VARCHAR2(67),',
      '  "f" BINARY_FLOAT,',
      '  "d" BINARY_DOUBLE,',
      '  "b1" NUMBER(1),',
      '  "b64" NUMBER(20),',
      '  "dt" DATE,',
      '  "dtm" TIMESTAMP(6),',
      '  "ts" TIMESTAMP(3),',
      '  "tm" VARCHAR2(17),',
      '  "yr" NUMBER(4),',
      '  "c" VARCHAR2(20 CHAR),',
      '  "vc" VARCHAR2(300 CHAR) NOT NULL,',
      '  "tx" CLOB,',
      '  "bn" RAW(16),',
      '  "vb" RAW(300),',
      '  "bl" BLOB,',
      '  "en" VARCHAR2(3 CHAR),',
      '  "st" VARCHAR2(5 CHAR),',
      '  "js" CLOB CHECK ("js" IS JSON),',
      '  PRIMARY KEY ("id")',
      ')',
    ].join('\n'),
  );
  assert.equal(
    ddl[1],
    'CREATE TABLE "sch_us"."PARTS" (\n  "shop" NUMBER(10) NOT NULL,\n  "sku" VARCHAR2(40 CHAR) NOT NULL,\n  "code" VARCHAR2(20 CHAR) NOT NULL,\n' +
      '  "quantity" NUMBER(10),\n  PRIMARY KEY ("shop", "sku"),\n  UNIQUE ("code")\n)',
  );
  const native = await cluster.cliOk(['schema', '--config', config, '--pipeline', 'sch', '--oracle-json', 'json']);
  assert.match(native, /"js" JSON,/);

  // Problems are user errors (exit 1), listed; an Oracle target nobody listens for cannot be applied (exit 2).
  const unknown = await cluster.cli(['schema', '--config', config, '--pipeline', 'nope']);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /unknown pipeline nope/);
  const apply = await cluster.cli(['pipeline', 'apply', '--config', config]);
  assert.equal(apply.code, 2, apply.stderr);
  assert.match(apply.stderr, new RegExp(`cannot reach data source ora at 127\\.0\\.0\\.1:${port}/FREEPDB1`));
});
