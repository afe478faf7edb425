/**
 * Value fidelity on real servers: one table with every common MariaDB type, extreme and random
 * values, NULLs, 4-byte UTF-8, arbitrary bytes and a ~1 MB blob; inserts, updates (one changing
 * only a blob) and deletes on the source arrive on the target byte for byte; and so they do
 * through a second pipeline with `consistency: backQuery`, which re-reads rows with SELECT, and a
 * third in `mode: field`, whose updates load as multi-row UPDATE … CASE statements.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Connection } from 'mysql2/promise';
import { checksum, Cluster, dumpTable, waitFor } from '../support/cluster.js';
import { prng } from '../support/prng.js';

const TABLE = 'fid.all_types';
/** The same table, filled by a backQuery pipeline and by a field-mode one. */
const BQ_TABLE = 'fid_bq.all_types';
const FIELD_TABLE = 'fid_field.all_types';
const DDL = `CREATE TABLE ${TABLE} (
  id INT NOT NULL PRIMARY KEY,
  ti TINYINT, tiu TINYINT UNSIGNED,
  si SMALLINT, siu SMALLINT UNSIGNED,
  mi MEDIUMINT, miu MEDIUMINT UNSIGNED,
  i INT, iu INT UNSIGNED,
  bi BIGINT, biu BIGINT UNSIGNED,
  dec65 DECIMAL(65,30), dec10 DECIMAL(10,2),
  f FLOAT, d DOUBLE,
  b1 BIT(1), b64 BIT(64),
  dt DATE, dtm DATETIME(6), ts TIMESTAMP(6) NULL DEFAULT NULL, tm TIME(6), yr YEAR,
  c CHAR(20), vc VARCHAR(300), tx TEXT, mtx MEDIUMTEXT,
  bn BINARY(16), vb VARBINARY(300), bl BLOB, lbl LONGBLOB,
  en ENUM('a','b','c d','ü','😀'), st SET('x','y','z','w','ä'),
  js JSON,
  nn VARCHAR(10) NOT NULL DEFAULT ''
) DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin`;

const COLUMNS = [
  'id', 'ti', 'tiu', 'si', 'siu', 'mi', 'miu', 'i', 'iu', 'bi', 'biu', 'dec65', 'dec10', 'f', 'd', 'b1', 'b64',
  'dt', 'dtm', 'ts', 'tm', 'yr', 'c', 'vc', 'tx', 'mtx', 'bn', 'vb', 'bl', 'lbl', 'en', 'st', 'js', 'nn',
] as const;
type Col = (typeof COLUMNS)[number];
type Value = string | number | Buffer | null;
type RowValues = Partial<Record<Col, Value>>;

/** Columns compared as HEX() too: bytes and bits, and text (to see the exact UTF-8). */
const HEX_COLUMNS: Col[] = ['b1', 'b64', 'bn', 'vb', 'bl', 'lbl', 'c', 'vc', 'tx', 'mtx', 'js', 'en', 'st'];

let cluster: Cluster;
let src: Connection;
let dst: Connection;

const rand = prng(20240229);
const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
function bytes(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let k = 0; k < n; k++) b[k] = Math.floor(rand() * 256);
  return b;
}
const SAMPLE_CHARS = ['a', 'Z', ' ', "'", '"', '\\', '\n', '\t', '%', '_', 'é', 'ß', 'ü', '中', '文', '€', '😀', '𝄞', '🇩🇪', '\u0301', '\u200d', '\0'];
function text(n: number): string {
  let s = '';
  for (let k = 0; k < n; k++) s += rand() < 0.6 ? String.fromCharCode(int(0x20, 0x7e)) : pick(SAMPLE_CHARS);
  return s;
}
const pad = (n: number, w = 2) => String(n).padStart(w, '0');
function decimal(intDigits: number, frac: number): string {
  let s = rand() < 0.5 ? '-' : '';
  s += String(int(0, 9));
  for (let k = 1; k < intDigits; k++) s += String(int(0, 9));
  if (frac) {
    s += '.';
    for (let k = 0; k < frac; k++) s += String(int(0, 9));
  }
  return s;
}

/** Hand-written extremes, then random rows; every nullable column is NULL in row 3 and randomly elsewhere. */
function initialRows(): RowValues[] {
  const ones64 = Buffer.alloc(8, 0xff);
  const megaBlob = bytes(1024 * 1024 + 7);
  megaBlob[0] = 0x00;
  megaBlob[megaBlob.length - 1] = 0xff;
  const rows: RowValues[] = [
    {
      id: 1, ti: -128, tiu: 255, si: -32768, siu: 65535, mi: -8388608, miu: 16777215, i: -2147483648, iu: 4294967295,
      bi: '-9223372036854775808', biu: '18446744073709551615',
      dec65: '99999999999999999999999999999999999.999999999999999999999999999999', dec10: '-99999999.99',
      f: 3.4028234663852886e38, d: 1.7976931348623157e308,
      b1: Buffer.from([1]), b64: ones64,
      dt: '1000-01-01', dtm: '1000-01-01 00:00:00.000000', ts: '1970-01-01 05:30:01.000000', tm: '-838:59:59.000000', yr: 1901,
      c: '😀𝄞 emoji', vc: '𝄞'.repeat(100), tx: '🇩🇪'.repeat(1000), mtx: 'ünïcødé 中文 '.repeat(5000),
      bn: Buffer.alloc(16, 0xff), vb: Buffer.from([0, 0xff, 0, 0xff]), bl: Buffer.from([0]), lbl: megaBlob,
      en: '😀', st: 'x,y,z,w,ä',
      js: JSON.stringify({ big: 123456789012345678901234567890, neg: -1.5e-300, deep: [[[[{ k: 'ü😀𝄞' }]]]], n: null, t: true, s: 'a"b\\c\n' }),
      nn: '',
    },
    {
      id: 2, ti: 127, tiu: 0, si: 32767, siu: 0, mi: 8388607, miu: 0, i: 2147483647, iu: 0,
      bi: '9223372036854775807', biu: '0',
      dec65: '-99999999999999999999999999999999999.999999999999999999999999999999', dec10: '0.01',
      f: -1.1754943508222875e-38, d: -2.2250738585072014e-308,
      b1: Buffer.from([0]), b64: Buffer.alloc(8, 0),
      dt: '9999-12-31', dtm: '9999-12-31 23:59:59.999999', ts: '2038-01-19 08:44:07.999999', tm: '838:59:59.000000', yr: 2155,
      c: '', vc: '', tx: '', mtx: '',
      bn: Buffer.alloc(16, 0), vb: Buffer.alloc(0), bl: Buffer.alloc(0), lbl: Buffer.alloc(0),
      en: 'a', st: '',
      js: '[]', nn: 'x',
    },
    { id: 3 }, // every nullable column NULL
    {
      id: 4, ti: 0, tiu: 1, si: -1, siu: 1, mi: -1, miu: 1, i: -1, iu: 1, bi: '-1', biu: '9223372036854775808',
      dec65: '0.000000000000000000000000000001', dec10: '-0.01',
      f: 0.1, d: 5e-324,
      b1: Buffer.from([1]), b64: Buffer.from('8000000000000001', 'hex'),
      dt: '2024-02-29', dtm: '2024-02-29 12:34:56.000001', ts: '2024-03-31 02:30:00.500000', tm: '-00:00:00.000001', yr: 2000,
      c: 'trailing  ', vc: 'trailing spaces   ', tx: 'line1\r\nline2\0after-nul', mtx: "quote ' and \" and \\",
      bn: Buffer.from('00112233445566778899aabbccddee00', 'hex'), vb: Buffer.from('00'.repeat(300), 'hex'),
      bl: Buffer.from([0xff, 0xfe, 0xfd]), lbl: Buffer.from([0x5c, 0x27, 0x22, 0x00, 0x1a]),
      en: 'c d', st: 'y,ä',
      js: '{"a": 1, "b": [1.0, 2.50, -0.0, 1e400], "c": {"ü": "\\u00fc\\ud83d\\ude00"}}', nn: 'y',
    },
    {
      id: 5, ti: null, tiu: 200, si: null, siu: 60000, mi: null, miu: 16000000, i: null, iu: 3000000000, bi: null, biu: '18446744073709551614',
      dec65: '-0.000000000000000000000000000001', dec10: null,
      f: -0, d: -0,
      b1: null, b64: Buffer.from('7fffffffffffffff', 'hex'),
      dt: null, dtm: '1970-01-01 00:00:00.000000', ts: null, tm: '100:00:00.000001', yr: null,
      c: null, vc: '\u0301\u200d', tx: null, mtx: null,
      bn: null, vb: null, bl: null, lbl: null, en: 'ü', st: 'w', js: 'null', nn: 'z',
    },
  ];
  for (let id = 6; id <= 50; id++) rows.push(randomRow(id));
  return rows;
}

function randomRow(id: number): RowValues {
  const maybe = <T>(v: T): T | null => (rand() < 0.15 ? null : v);
  return {
    id,
    ti: maybe(int(-128, 127)), tiu: maybe(int(0, 255)), si: maybe(int(-32768, 32767)), siu: maybe(int(0, 65535)),
    mi: maybe(int(-8388608, 8388607)), miu: maybe(int(0, 16777215)), i: maybe(int(-2147483648, 2147483647)), iu: maybe(int(0, 4294967295)),
    bi: maybe((BigInt(int(-(2 ** 31), 2 ** 31 - 1)) * 4294967296n + BigInt(int(0, 2 ** 32 - 1))).toString()),
    biu: maybe((BigInt(int(0, 2 ** 32 - 1)) * 4294967296n + BigInt(int(0, 2 ** 32 - 1))).toString()),
    dec65: maybe(decimal(int(1, 35), 30)), dec10: maybe(decimal(int(1, 8), 2)),
    f: maybe(Math.fround((rand() - 0.5) * 10 ** int(-30, 30))), d: maybe((rand() - 0.5) * 10 ** int(-300, 300)),
    b1: maybe(Buffer.from([int(0, 1)])), b64: maybe(bytes(8)),
    dt: maybe(`${int(1000, 9999)}-${pad(int(1, 12))}-${pad(int(1, 28))}`),
    dtm: maybe(`${int(1000, 9999)}-${pad(int(1, 12))}-${pad(int(1, 28))} ${pad(int(0, 23))}:${pad(int(0, 59))}:${pad(int(0, 59))}.${pad(int(0, 999999), 6)}`),
    ts: maybe(`${int(1971, 2037)}-${pad(int(1, 12))}-${pad(int(1, 28))} ${pad(int(0, 23))}:${pad(int(0, 59))}:${pad(int(0, 59))}.${pad(int(0, 999999), 6)}`),
    tm: maybe(`${rand() < 0.3 ? '-' : ''}${int(0, 838)}:${pad(int(0, 59))}:${pad(int(0, 59))}.${pad(int(0, 999999), 6)}`),
    yr: maybe(int(1901, 2155)),
    c: maybe(text(int(0, 10))), vc: maybe(text(int(0, 150))), tx: maybe(text(int(0, 2000))), mtx: maybe(text(int(0, 20000))),
    bn: maybe(bytes(16)), vb: maybe(bytes(int(0, 300))), bl: maybe(bytes(int(0, 5000))), lbl: maybe(bytes(int(0, 50000))),
    en: maybe(pick(['a', 'b', 'c d', 'ü', '😀'])),
    st: maybe(['x', 'y', 'z', 'w', 'ä'].filter(() => rand() < 0.5).join(',')),
    js: maybe(JSON.stringify({ id, s: text(int(0, 30)), n: [int(-1e6, 1e6), rand(), 2 ** 60], o: { nested: { deeper: [null, true, false] } } })),
    nn: text(int(0, 3)).replace(/[^a-z]/gi, 'q'),
  };
}

function insertSql(conn: Connection, row: RowValues): string {
  const cols = COLUMNS.filter((c) => c in row);
  return conn.format(`INSERT INTO ${TABLE} (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`, cols.map((c) => row[c]));
}

async function hexDump(conn: Connection, table = TABLE): Promise<string[]> {
  const [rows] = await conn.query({
    sql: `SELECT id, ${HEX_COLUMNS.map((c) => `HEX(${c})`).join(', ')}, MD5(lbl), LENGTH(lbl) FROM ${table} ORDER BY id`,
    rowsAsArray: true,
  });
  return (rows as unknown[][]).map((r) => JSON.stringify(r));
}

/** Names the first row and columns that differ, so a failure says which type broke. */
async function differences(target = TABLE): Promise<string[]> {
  const [s] = await src.query({ sql: `SELECT * FROM ${TABLE} ORDER BY id`, rowsAsArray: true });
  const [d] = await dst.query({ sql: `SELECT * FROM ${target} ORDER BY id`, rowsAsArray: true });
  const show = (v: unknown) => {
    const t = Buffer.isBuffer(v) ? `0x${v.toString('hex')}` : JSON.stringify(v);
    return t.length > 80 ? `${t.slice(0, 80)}… (${t.length} chars)` : t;
  };
  const byId = (rows: unknown[][]) => new Map(rows.map((r) => [String(r[0]), r]));
  const sm = byId(s as unknown[][]);
  const dm = byId(d as unknown[][]);
  const out: string[] = [];
  for (const id of new Set([...sm.keys(), ...dm.keys()])) {
    const a = sm.get(id);
    const b = dm.get(id);
    if (!a || !b) {
      out.push(`row id=${id}: ${a ? 'missing on the target' : 'extra on the target'}`);
      continue;
    }
    COLUMNS.forEach((c, k) => {
      if (JSON.stringify(a[k]) !== JSON.stringify(b[k])) out.push(`row id=${id} column ${c}: source ${show(a[k])}, target ${show(b[k])}`);
    });
  }
  return out;
}

before(async () => {
  cluster = await Cluster.start({ name: 'fidelity' });
  src = await cluster.source.connect();
  dst = await cluster.target.connect();
  for (const c of [src, dst]) {
    await c.query('CREATE DATABASE fid');
    await c.query(DDL);
  }
  await dst.query('CREATE DATABASE fid_bq');
  await dst.query(DDL.replace(TABLE, BQ_TABLE));
  await dst.query('CREATE DATABASE fid_field');
  await dst.query(DDL.replace(TABLE, FIELD_TABLE));
  const out = await cluster.runPipelines(`pipelines:
  - id: fidelity
    source: src
    target: dst
    start: current
    tables:
      - source: ${TABLE}
    batch: { maxRows: 20, maxWaitMs: 100 }
  - id: fidelity-bq
    source: src
    target: dst
    start: current
    consistency: backQuery
    tables:
      - source: ${TABLE}
        target: ${BQ_TABLE}
    batch: { maxRows: 20, maxWaitMs: 100 }
  - id: fidelity-field
    source: src
    target: dst
    start: current
    mode: field
    tables:
      - source: ${TABLE}
        target: ${FIELD_TABLE}
    batch: { maxRows: 20, maxWaitMs: 100 }
`);
  assert.match(out, /fidelity: started/);
  assert.match(out, /fidelity-bq: started/);
  assert.match(out, /fidelity-field: started/);
});

after(async () => {
  await src?.end();
  await dst?.end();
  await cluster?.close();
});

test('every common MariaDB type arrives exactly: extremes, NULLs, 4-byte UTF-8, arbitrary bytes', async () => {
  // A session time zone other than the server's: TIMESTAMP must keep the instant, not the wall clock.
  await src.query("SET time_zone = '+05:30'");
  const rows = initialRows();
  // Some rows alone, some in multi-row transactions.
  for (let k = 0; k < rows.length; ) {
    const n = Math.min(rows.length - k, k < 5 ? 1 : int(1, 6));
    await src.query('BEGIN');
    for (const row of rows.slice(k, k + n)) await src.query(insertSql(src, row));
    await src.query('COMMIT');
    k += n;
  }
  // Updates: only a blob; values to NULL; NULLs to values; extremes swapped; a whole row replaced.
  await src.query(`UPDATE ${TABLE} SET bl = ? WHERE id = 1`, [Buffer.from([0x00, 0xff, 0x00, 0xff, 0x80])]);
  await src.query(`UPDATE ${TABLE} SET lbl = ? WHERE id = 7`, [bytes(200_000)]);
  await src.query(`UPDATE ${TABLE} SET ti = NULL, biu = NULL, dec65 = NULL, b64 = NULL, tm = NULL, js = NULL, lbl = NULL, st = NULL WHERE id = 2`);
  await src.query(`UPDATE ${TABLE} SET ti = -5, biu = '18446744073709551615', b64 = b'1111111111111111111111111111111111111111111111111111111111111111', tm = '-12:00:00.5', js = '{"x": "𝄞"}', st = 'x,ä', en = '😀', ts = '2001-02-03 04:05:06.789' WHERE id = 3`);
  await src.query('BEGIN');
  for (let id = 10; id <= 20; id += 2) {
    const r = randomRow(id);
    const cols = COLUMNS.filter((c) => c !== 'id');
    await src.query(`UPDATE ${TABLE} SET ${cols.map((c) => `${c} = ?`).join(', ')} WHERE id = ?`, [...cols.map((c) => r[c] ?? null), id]);
  }
  await src.query(`UPDATE ${TABLE} SET f = -f, d = -d, dec65 = -dec65 WHERE id BETWEEN 30 AND 35`);
  await src.query('COMMIT');
  // Deletes, one of them of the row with every extreme in it (its before image must decode too).
  await src.query(`DELETE FROM ${TABLE} WHERE id IN (4, 25, 26, 49)`);

  // Dump both sides in the servers' own time zone.
  await src.query('SET time_zone = @@global.time_zone');
  const want = await dumpTable(src, TABLE);
  assert.equal(want.length, 46);
  // The extremes really are in the source (strict mode would have refused them, but be sure).
  const [probe] = await src.query({
    sql: `SELECT biu, bi, HEX(b64), tm, dec65, LENGTH(lbl), HEX(bl), en, st FROM ${TABLE} WHERE id IN (1, 2) ORDER BY id`,
    rowsAsArray: true,
  });
  assert.deepEqual(probe, [
    ['18446744073709551615', '-9223372036854775808', 'FFFFFFFFFFFFFFFF', '-838:59:59.000000',
      '99999999999999999999999999999999999.999999999999999999999999999999', 1048583, '00FF00FF80', '😀', 'x,y,z,w,ä'],
    [null, '9223372036854775807', null, null, null, null, '', 'a', null], // row 2 had these set to NULL
  ]);
  try {
    await waitFor(`${TABLE} to match`, async () => JSON.stringify(await dumpTable(dst, TABLE)) === JSON.stringify(want), 30_000, 300);
  } catch (err) {
    const diff = await differences();
    assert.fail(`${(err as Error).message}\n${diff.length} difference(s):\n${diff.slice(0, 40).join('\n')}`);
  }
  assert.deepEqual(await dumpTable(dst, TABLE), want);
  assert.deepEqual(await hexDump(dst), await hexDump(src), 'HEX() of byte, bit and text columns');
  assert.equal(await checksum(dst, TABLE), await checksum(src, TABLE), `CHECKSUM TABLE ${TABLE}`);
  // TIMESTAMP: the same instants in UTC on both sides.
  const utc = async (c: Connection) => {
    const [r] = await c.query({ sql: `SELECT id, UNIX_TIMESTAMP(ts) FROM ${TABLE} ORDER BY id`, rowsAsArray: true });
    return r;
  };
  assert.deepEqual(await utc(dst), await utc(src));
});

for (const [how, table] of [['backQuery', BQ_TABLE], ['field mode', FIELD_TABLE]] as const) {
  test(`through ${how} too: rows arrive exactly`, async () => {
    const want = await dumpTable(src, TABLE);
    try {
      await waitFor(`${table} to match`, async () => JSON.stringify(await dumpTable(dst, table)) === JSON.stringify(want), 60_000, 300);
    } catch (err) {
      const diff = await differences(table);
      assert.fail(`${(err as Error).message}\n${diff.length} difference(s):\n${diff.slice(0, 40).join('\n')}`);
    }
    assert.deepEqual(await hexDump(dst, table), await hexDump(src), 'HEX() of byte, bit and text columns');
    // Column by column against the binlog-fed copy (equal to the source, as the first test showed),
    // compared by the server: FLOAT and DOUBLE bits that text output rounds away count too.
    const differing: string[] = [];
    for (const c of COLUMNS) {
      const [[{ n }]] = (await dst.query(
        `SELECT COUNT(*) AS n FROM ${TABLE} a JOIN ${table} b USING (id) WHERE NOT (a.${c} <=> b.${c}) OR NOT (CAST(a.${c} AS BINARY) <=> CAST(b.${c} AS BINARY))`,
      )) as unknown as [{ n: number }[]];
      if (Number(n)) differing.push(`${c}: ${n} row(s)`);
    }
    assert.deepEqual(differing, [], 'columns that differ from the binlog-fed copy');
    const [[s]] = (await src.query(`CHECKSUM TABLE ${TABLE}`)) as unknown as [{ Checksum: string }[]];
    const [[d]] = (await dst.query(`CHECKSUM TABLE ${table}`)) as unknown as [{ Checksum: string }[]];
    assert.equal(String(d.Checksum), String(s.Checksum), 'CHECKSUM TABLE');
  });
}
