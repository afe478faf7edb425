/**
 * The payload codec: round trips, fresh ciphertext every time, tampering and unknown keys caught
 * with clear messages, old keys for rotation, key validation, and the codec server over HTTP.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import type { Payload } from '@temporalio/common';
import { defaultPayloadConverter } from '@temporalio/common';
import { codecFromEnv, ENCRYPTED_ENCODING, KEY_ID_METADATA, parseKey, SeaotterCodec } from '../../client/codec.js';
import { startCodecServer, type CodecServer } from '../../client/codec-server.js';

const newKey = () => randomBytes(32).toString('base64');
const KEY = newKey();
const codec = codecFromEnv({ SEAOTTER_CODEC_KEY: KEY })!;

const meta = (p: Payload, k: string) => (p.metadata?.[k] ? Buffer.from(p.metadata[k]).toString() : undefined);
const toPayload = (v: unknown) => defaultPayloadConverter.toPayload(v) as Payload;

const SAMPLES: Payload[] = [
  toPayload({ pipeline: 'orders', host: '127.0.0.1', note: 'PLAINTEXT-CANARY-12345' }),
  toPayload('x'.repeat(100_000)), // compresses well
  toPayload(randomBytes(5000)), // binary/plain, does not compress
  toPayload(undefined), // binary/null: metadata only
  toPayload(null),
  toPayload([1, 2.5, 'ü€😀', { deep: [true, false, null] }]),
  { metadata: { encoding: Buffer.from('json/plain'), other: Buffer.from([0, 255, 7]) }, data: Buffer.alloc(0) },
];

test('every kind of payload round-trips, metadata included', async () => {
  const encoded = await codec.encode(SAMPLES);
  assert.equal(encoded.length, SAMPLES.length);
  for (const e of encoded) {
    assert.equal(meta(e, 'encoding'), ENCRYPTED_ENCODING);
    assert.equal(meta(e, KEY_ID_METADATA), codec.keyIds[0]);
    assert.deepEqual(Object.keys(e.metadata!).sort(), ['encoding', KEY_ID_METADATA].sort(), 'no original metadata in clear');
    assert.ok(!Buffer.from(e.data!).includes('PLAINTEXT-CANARY'), 'no plaintext in the data');
  }
  const decoded = await codec.decode(encoded);
  decoded.forEach((d, i) => {
    assert.deepEqual(norm(d), norm(SAMPLES[i]), `sample ${i}`);
  });
  assert.equal(defaultPayloadConverter.fromPayload<{ note: string }>(decoded[0]).note, 'PLAINTEXT-CANARY-12345');
  assert.equal(await codec.encode([]).then((x) => x.length), 0);
});

test('compression: a repetitive payload shrinks, a random one does not grow by more than the envelope', async () => {
  const [big, random] = await codec.encode([SAMPLES[1], SAMPLES[2]]);
  assert.ok(big.data!.length < 2000, `100 kB of one letter encrypts to ${big.data!.length} bytes`);
  const overhead = random.data!.length - Buffer.from(SAMPLES[2].data!).length;
  assert.ok(overhead < 100, `random data grows by ${overhead} bytes (IV, tag, flag, protobuf framing, metadata)`);
});

test('the same payload encrypts differently every time (random IV)', async () => {
  const [a, b] = await codec.encode([SAMPLES[0], SAMPLES[0]]);
  assert.notDeepEqual(Buffer.from(a.data!), Buffer.from(b.data!));
  assert.notDeepEqual(Buffer.from(a.data!).subarray(0, 12), Buffer.from(b.data!).subarray(0, 12));
});

test('a tampered payload fails authentication', async () => {
  const [e] = await codec.encode([SAMPLES[0]]);
  for (const at of [0, 12, 20, e.data!.length - 1]) {
    const data = Buffer.from(e.data!);
    data[at] ^= 1;
    await assert.rejects(codec.decode([{ ...e, data }]), /key id [0-9a-f]{8}\) failed authentication/, `byte ${at} flipped`);
  }
  await assert.rejects(codec.decode([{ ...e, data: Buffer.from(e.data!).subarray(0, 20) }]), /too short|failed authentication/);
});

test('a payload from an unknown key names the key id', async () => {
  const other = codecFromEnv({ SEAOTTER_CODEC_KEY: newKey() })!;
  const [e] = await other.encode([SAMPLES[0]]);
  await assert.rejects(codec.decode([e]), (err: Error) => {
    assert.match(err.message, new RegExp(`key id ${other.keyIds[0]}`));
    assert.match(err.message, /SEAOTTER_CODEC_KEY/);
    return true;
  });
});

test('old keys decode (rotation); new payloads use the current key only', async () => {
  const oldA = newKey();
  const oldB = newKey();
  const [fromA] = await codecFromEnv({ SEAOTTER_CODEC_KEY: oldA })!.encode([SAMPLES[0]]);
  const [fromB] = await codecFromEnv({ SEAOTTER_CODEC_KEY: oldB })!.encode([SAMPLES[5]]);
  const rotated = codecFromEnv({ SEAOTTER_CODEC_KEY: KEY, SEAOTTER_CODEC_OLD_KEYS: ` ${oldA} ,${oldB},` })!;
  assert.deepEqual(rotated.keyIds, [codec.keyIds[0], parseKey(oldA, 'a').id, parseKey(oldB, 'b').id]);
  const [a, b] = await rotated.decode([fromA, fromB]);
  assert.deepEqual(norm(a), norm(SAMPLES[0]));
  assert.deepEqual(norm(b), norm(SAMPLES[5]));
  const [fresh] = await rotated.encode([SAMPLES[0]]);
  assert.equal(meta(fresh, KEY_ID_METADATA), codec.keyIds[0]);
  await codec.decode([fresh]); // readable by a codec that has the current key only
});

test('plain payloads pass through decode unchanged (histories from before the key)', async () => {
  const [out] = await codec.decode([SAMPLES[0]]);
  assert.equal(out, SAMPLES[0]);
});

test('spec signatures: the key that signed verifies, an old one after rotation too; a changed text, another key or none is named', () => {
  const text = '{"id":"orders","target":{"host":"127.0.0.1"}}';
  const signature = codec.sign(text);
  assert.match(signature, new RegExp(`^${codec.keyIds[0]}:[A-Za-z0-9+/]+=*$`));
  assert.equal(codec.signatureProblem(text, signature), undefined);
  assert.equal(codec.signatureProblem(text.replace('127.0.0.1', '203.0.113.9'), signature), 'its signature does not match it: it was changed after it was applied');
  assert.equal(codec.signatureProblem(text, undefined), 'it is not signed');
  // The signing key is derived: the signature is not an HMAC under the encryption key itself.
  const other = codecFromEnv({ SEAOTTER_CODEC_KEY: newKey() })!;
  assert.equal(other.signatureProblem(text, signature), `it is signed with key id ${codec.keyIds[0]}, and this worker holds ${other.keyIds[0]}`);
  const rotated = codecFromEnv({ SEAOTTER_CODEC_KEY: newKey(), SEAOTTER_CODEC_OLD_KEYS: KEY })!;
  assert.equal(rotated.signatureProblem(text, signature), undefined, 'the old key still verifies');
  assert.notEqual(rotated.sign(text).split(':')[0], codec.keyIds[0], 'and new signatures use the new key');
  // A forged signature of the right length under the right id.
  const forged = `${codec.keyIds[0]}:${Buffer.alloc(32, 7).toString('base64')}`;
  assert.equal(codec.signatureProblem(text, forged), 'its signature does not match it: it was changed after it was applied');
});

test("a worker's codec refuses payloads that are not encrypted, unless SEAOTTER_CODEC_ACCEPT_PLAIN=1; clients read them", async () => {
  const plain = toPayload({ spec: { id: 'orders', target: { host: '203.0.113.9' } } });
  const worker = codecFromEnv({ SEAOTTER_CODEC_KEY: KEY }, { refusePlain: true })!;
  await assert.rejects(worker.decode([plain]), /a payload that is not encrypted \(json\/plain\) reached a worker with SEAOTTER_CODEC_KEY.*SEAOTTER_CODEC_ACCEPT_PLAIN=1 lets it read histories written before the key was set/);
  assert.equal(worker.acceptPlain, false);
  // Its own payloads, and those of a client with the key, it reads.
  const [back] = await worker.decode(await codec.encode([plain]));
  assert.deepEqual(defaultPayloadConverter.fromPayload(back!), defaultPayloadConverter.fromPayload(plain));
  const migrating = codecFromEnv({ SEAOTTER_CODEC_KEY: KEY, SEAOTTER_CODEC_ACCEPT_PLAIN: '1' }, { refusePlain: true })!;
  assert.deepEqual(await migrating.decode([plain]), [plain]);
  assert.deepEqual(await codec.decode([plain]), [plain], 'a client (and the codec server) reads old plain histories');
  assert.throws(() => codecFromEnv({ SEAOTTER_CODEC_KEY: KEY, SEAOTTER_CODEC_ACCEPT_PLAIN: 'yes' }, { refusePlain: true }), /SEAOTTER_CODEC_ACCEPT_PLAIN must be 1 or 0, not "yes"/);
});

test('no key: no codec; malformed keys: an error naming the variable, never echoing the key', () => {
  assert.equal(codecFromEnv({}), undefined);
  assert.equal(codecFromEnv({ SEAOTTER_CODEC_KEY: '  ' }), undefined);
  const bad = [
    ['SEAOTTER_CODEC_KEY', randomBytes(16).toString('base64'), /SEAOTTER_CODEC_KEY must be the base64 of exactly 32 bytes.*16 bytes/],
    ['SEAOTTER_CODEC_KEY', randomBytes(33).toString('base64'), /SEAOTTER_CODEC_KEY .*33 bytes/],
    ['SEAOTTER_CODEC_KEY', 'not*base64!at-all-not*base64!at-all-not*base64', /SEAOTTER_CODEC_KEY .*not base64/],
    ['SEAOTTER_CODEC_KEY', randomBytes(32).toString('hex'), /SEAOTTER_CODEC_KEY .*48 bytes/],
  ] as const;
  for (const [name, value, want] of bad) {
    assert.throws(() => codecFromEnv({ [name]: value }), (err: Error) => {
      assert.match(err.message, want);
      assert.ok(!err.message.includes(value), 'the key is not echoed');
      return true;
    });
  }
  assert.throws(() => codecFromEnv({ SEAOTTER_CODEC_KEY: KEY, SEAOTTER_CODEC_OLD_KEYS: `${newKey()},short` }), /SEAOTTER_CODEC_OLD_KEYS \(key 2\) must be/);
  assert.throws(() => codecFromEnv({ SEAOTTER_CODEC_OLD_KEYS: newKey() }), /SEAOTTER_CODEC_OLD_KEYS is set but SEAOTTER_CODEC_KEY is not/);
  assert.ok(codecFromEnv({ SEAOTTER_CODEC_KEY: `${KEY}\n` }) instanceof SeaotterCodec, 'a trailing newline (from a file) is fine');
});

// --- the codec server, over HTTP ---

let server: CodecServer;
const UI = 'http://127.0.0.1:8233';

before(async () => {
  server = await startCodecServer({ codec, port: 0, uiOrigins: [UI] });
});
after(async () => {
  await server?.close();
});

const asJson = (p: Payload) => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  data: Buffer.from(p.data ?? []).toString('base64'),
});
const fromJson = (p: { metadata?: Record<string, string>; data?: string }): Payload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
  data: Buffer.from(p.data ?? '', 'base64'),
});

async function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${server.url}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Namespace': 'default', ...headers }, body: JSON.stringify(body) });
}

test('codec server: /encode then /decode round-trips; its output decodes in-process too', async () => {
  const enc = await post('/encode', { payloads: SAMPLES.map(asJson) });
  assert.equal(enc.status, 200);
  const encoded = ((await enc.json()) as { payloads: { metadata: Record<string, string>; data: string }[] }).payloads;
  assert.equal(encoded.length, SAMPLES.length);
  assert.equal(Buffer.from(encoded[0].metadata.encoding, 'base64').toString(), ENCRYPTED_ENCODING);
  assert.deepEqual((await codec.decode(encoded.map(fromJson))).map(norm), SAMPLES.map(norm));

  // Mounted under any prefix: only the last path segment counts.
  const dec = await post('/some/prefix/decode', { payloads: encoded });
  assert.equal(dec.status, 200);
  const decoded = ((await dec.json()) as { payloads: { metadata: Record<string, string>; data: string }[] }).payloads;
  assert.deepEqual(decoded.map(fromJson).map(norm), SAMPLES.map(norm));
  assert.equal(JSON.parse(Buffer.from(decoded[0].data, 'base64').toString()).note, 'PLAINTEXT-CANARY-12345');
});

test('codec server: CORS for the Web UI origin, refusal for others, clear errors', async () => {
  const pre = await fetch(`${server.url}/decode`, {
    method: 'OPTIONS',
    headers: { Origin: UI, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type,x-namespace' },
  });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers.get('access-control-allow-origin'), UI);
  assert.match(pre.headers.get('access-control-allow-headers') ?? '', /X-Namespace/i);
  assert.match(pre.headers.get('access-control-allow-headers') ?? '', /Content-Type/i);
  assert.match(pre.headers.get('access-control-allow-methods') ?? '', /POST/);

  const [e] = await codec.encode([SAMPLES[0]]);
  const ok = await post('/decode', { payloads: [asJson(e)] }, { Origin: UI });
  assert.equal(ok.status, 200);
  assert.equal(ok.headers.get('access-control-allow-origin'), UI);

  const evil = await post('/decode', { payloads: [asJson(e)] }, { Origin: 'http://evil.example' });
  assert.equal(evil.status, 403);
  assert.equal(evil.headers.get('access-control-allow-origin'), null);

  const [foreign] = await codecFromEnv({ SEAOTTER_CODEC_KEY: newKey() })!.encode([SAMPLES[0]]);
  const unknown = await post('/decode', { payloads: [asJson(foreign)] });
  assert.equal(unknown.status, 500);
  assert.match(((await unknown.json()) as { error: string }).error, /key id [0-9a-f]{8}/);

  assert.equal((await post('/decode', { payloads: 'x' })).status, 400);
  assert.equal((await post('/decode', { payloads: [{ metadata: { encoding: 5 } }] })).status, 400, 'metadata values must be base64 text');
  assert.equal((await post('/decode', { payloads: [null] })).status, 400);
  assert.equal((await post('/encode', { payloads: [{ data: {} }] })).status, 400);
  const none = await post('/encode', {}); // protobuf JSON of an empty list
  assert.equal(none.status, 200);
  assert.deepEqual(await none.json(), { payloads: [] });
  assert.equal((await fetch(`${server.url}/decode`, { method: 'POST', body: '{not json' })).status, 400);
  assert.equal((await fetch(`${server.url}/decode`)).status, 404);
});

/** Payload as plain comparable data (Buffers vs Uint8Arrays, absent vs empty data). */
function norm(p: Payload): { metadata: Record<string, string>; data: string } {
  return {
    metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('hex')]).sort()),
    data: Buffer.from(p.data ?? []).toString('hex'),
  };
}
