import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import type { Row, RowChange, SqlValue } from '../../lib/model.js';
import { decodeChange, decodeRow, encodeChange, encodeRow, encodeValue, parseChanges, shortestFloat, stringifyChanges } from '../../lib/values.js';

const bytes = randomBytes(257);
const cases: [string, SqlValue][] = [
  ['random bytes', bytes],
  ['empty bytes', Buffer.alloc(0)],
  ['bytes of every value', Buffer.from(Array.from({ length: 256 }, (_, i) => i))],
  ['unsigned bigint as string', '18446744073709551615'],
  ['exact decimal', '-12345678901234567890.000000000123'],
  ['datetime(6)', '2024-01-02 03:04:05.123456'],
  ['4-byte UTF-8', '😀𝄞'],
  ['lone surrogate', '\ud800x'],
  ['string that looks like a tag', '{"$b":"AAAA"}'],
  ['control characters and newlines', 'a\nb\r\n\u2028\u0000"\\'],
  ['empty string', ''],
  ['integer', 42],
  ['max safe integer', Number.MAX_SAFE_INTEGER],
  ['negative zero', -0],
  ['smallest normal float', 1.1754943508222875e-38],
  ['subnormal double', 5e-324],
  ['double', 0.1 + 0.2],
  ['NaN', NaN],
  ['Infinity', Infinity],
  ['-Infinity', -Infinity],
  ['true', true],
  ['false', false],
  ['null', null],
];

for (const [name, value] of cases) {
  test(`value survives JSON: ${name}`, () => {
    const [back] = parseChanges(stringifyChanges([{ schema: 's', table: 't', action: 'insert', after: { c: value } }]));
    const got = back.after!.c;
    assert.deepEqual(got, value);
    if (typeof value === 'number') assert.ok(Object.is(got, value), `${String(got)} is ${String(value)}`);
    if (value instanceof Uint8Array) assert.ok(Buffer.isBuffer(got));
  });
}

test('a row of every kind survives encodeRow/decodeRow through JSON', () => {
  const row: Row = Object.fromEntries(cases.map(([name, v]) => [name, v]));
  const back = decodeRow(JSON.parse(JSON.stringify(encodeRow(row))));
  assert.deepEqual(back, row);
  assert.deepEqual(Object.keys(back), Object.keys(row));
});

test('a plain Uint8Array (not a Buffer) and a view into a larger buffer encode their own bytes', () => {
  const whole = Buffer.from([9, 1, 2, 3, 9]);
  const row: Row = { view: new Uint8Array(whole.buffer, whole.byteOffset + 1, 3), plain: new Uint8Array([250, 251]) };
  const back = decodeRow(JSON.parse(JSON.stringify(encodeRow(row))));
  assert.deepEqual(back, { view: Buffer.from([1, 2, 3]), plain: Buffer.from([250, 251]) });
});

test('tagged forms are the documented ones', () => {
  assert.deepEqual(encodeValue(Buffer.from('hi')), { $b: 'aGk=' });
  assert.deepEqual(encodeValue(NaN), { $n: 'NaN' });
  assert.deepEqual(encodeValue(-Infinity), { $n: '-Infinity' });
  assert.deepEqual(encodeValue(-0), { $n: '-0' });
  assert.equal(encodeValue(1.5), 1.5);
  assert.equal(stringifyChanges([{ schema: 's', table: 't', action: 'delete', before: { id: 1, b: Buffer.from([0]) } }]),
    '{"schema":"s","table":"t","action":"delete","before":{"id":1,"b":{"$b":"AA=="}}}\n');
});

test('encodeRow does not copy a row that needs no tags, and never changes its input', () => {
  const plain: Row = { a: 1, b: 'x', c: null, d: true };
  assert.equal(encodeRow(plain), plain);
  const tagged: Row = { a: 1, b: Buffer.from('x'), c: 'y' };
  const encoded = encodeRow(tagged);
  assert.notEqual(encoded, tagged);
  assert.deepEqual(encoded, { a: 1, b: { $b: 'eA==' }, c: 'y' });
  assert.ok(Buffer.isBuffer(tagged.b));
});

test('a column named __proto__ stays a column', () => {
  const row = JSON.parse('{"__proto__":"x","b":{"$b":"AQ=="}}') as Row;
  // decodeRow makes `b` bytes, so encodeRow copies the row, `__proto__` included.
  const back = decodeRow(JSON.parse(JSON.stringify(encodeRow(decodeRow(row)))));
  assert.ok(Object.hasOwn(back, '__proto__'));
  assert.equal(back['__proto__'], 'x');
  assert.equal(Object.getPrototypeOf(back), Object.prototype);
  const bytesFirst = JSON.parse('{"__proto__":{"$b":"AQ=="}}') as Row;
  assert.deepEqual(decodeRow(bytesFirst)['__proto__'], Buffer.from([1]));
});

test('changes of every action round-trip as JSON lines', () => {
  const changes: RowChange[] = [
    { schema: 'shop', table: 'orders', action: 'insert', after: { id: '18446744073709551615', pic: bytes } },
    { schema: 'shop', table: 'orders', action: 'update', before: { id: 1, n: -0 }, after: { id: 2, n: NaN } },
    { schema: 'shop', table: 'orders', action: 'delete', before: { id: 3, note: 'line\nbreak' } },
    // Field mode: the columns an update writes travel with it.
    { schema: 'shop', table: 'orders', action: 'update', before: { id: 4, a: 1 }, after: { id: 4, a: 2 }, changed: ['a'] },
  ];
  const text = stringifyChanges(changes);
  assert.equal(text.split('\n').length, 5);
  assert.deepEqual(parseChanges(text), changes);
  assert.deepEqual(decodeChange(JSON.parse(JSON.stringify(encodeChange(changes[1])))), changes[1]);
  assert.deepEqual(parseChanges(''), []);
  assert.deepEqual(parseChanges(text.replaceAll('\n', '\r\n') + '\n'), changes);
});

test('JSON lines are one JSON.stringify per change, also when values look like the line separator', () => {
  const tricky = ['},{"schema":', '"},{"schema":"x"}', '}\n{', '\\"},{\\"schema\\":', '{"$b":"AA=="}', '\u2028\u2029', ''];
  const changes: RowChange[] = [];
  for (const [i, v] of tricky.entries()) {
    changes.push({ schema: v, table: v, action: 'insert', after: { [v || 'c']: v, schema: v, b: Buffer.from(v), n: i } });
    changes.push({ schema: 's', table: 't', action: 'update', before: { id: i, schema: v }, after: { id: i, schema: `${v}!` }, changed: [v, 'schema'] });
    changes.push({ schema: 's', table: '},{"schema":', action: 'delete', before: { id: i, x: -0, y: NaN, z: v } });
  }
  const text = stringifyChanges(changes);
  assert.equal(text, changes.map((c) => `${JSON.stringify(encodeChange(c))}\n`).join(''));
  assert.deepEqual(parseChanges(text), changes);
  assert.equal(stringifyChanges([]), '');
});

test('bad input is refused, not guessed at', () => {
  assert.throws(() => decodeChange({ schema: 's', table: 't', action: 'update', before: {}, after: {}, changed: [1] }), /malformed column list/);
  assert.throws(() => encodeRow({ d: new Date() as unknown as SqlValue }), /column d: cannot stage a value of type Date/);
  assert.throws(() => encodeRow({ n: 1n as unknown as SqlValue }), /type bigint/);
  assert.throws(() => decodeRow({ x: { $q: 1 } }), /column x: not a staged value/);
  assert.throws(() => decodeRow({ x: [1] }), /column x/);
  assert.throws(() => decodeRow({ x: { $n: 'five' } }), /column x/);
  assert.throws(() => parseChanges('{"schema":"s","table":"t","action":"insert","after":{}}\n{oops'), /line 2/);
  assert.throws(() => parseChanges('{"schema":"s","table":"t","action":"update","after":{}}'), /without before image/);
  assert.throws(() => parseChanges('{"schema":"s","table":"t","action":"upsert","after":{}}'), /action upsert/);
});

test('stringify and parse 100k changes quickly', () => {
  const changes: RowChange[] = [];
  for (let i = 0; i < 100_000; i++) {
    changes.push({ schema: 'shop', table: 'orders', action: 'update',
      before: { id: i, name: `name ${i}`, price: '12.50', at: '2024-01-02 03:04:05', flag: null },
      after: { id: i, name: `name ${i}`, price: '13.50', at: '2024-01-02 03:04:06', flag: i % 2 === 0 } });
  }
  const started = performance.now();
  const back = parseChanges(stringifyChanges(changes));
  const ms = performance.now() - started;
  assert.equal(back.length, changes.length);
  assert.deepEqual(back[99_999], changes[99_999]);
  assert.ok(ms < 3000, `took ${ms} ms`);
});

test('a FLOAT widened to a double comes back as the shortest decimal of the same single-precision value', () => {
  const cases: [number, number][] = [
    [1.1, 1.1],
    [0.1, 0.1],
    [123456.7, 123456.7],
    [1 / 3, 0.33333334],
    [-3.40282e38, -3.40282e38],
    [2.5e-38, 2.5e-38],
    [1e-45, 1e-45],
    [16777217, 16777216],
  ];
  for (const [written, want] of cases) {
    const widened = Math.fround(written);
    assert.equal(shortestFloat(widened), want, `${written} (widened ${widened})`);
    assert.equal(Math.fround(shortestFloat(widened)), widened, `${written} reads back as the same float`);
  }
  // FLT_MAX's shortest decimal (3.4028235e38) is past it, and a FLOAT target refuses it: kept exact.
  assert.equal(shortestFloat(3.4028234663852886e38), 3.4028234663852886e38);
  assert.equal(shortestFloat(-3.4028234663852886e38), -3.4028234663852886e38);
  for (const v of [0, -0, Infinity, NaN]) assert.ok(Object.is(shortestFloat(v), v));
});
