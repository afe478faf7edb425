/**
 * The stage in S3: a pipeline whose source is in one datacenter and target in another, with a
 * worker per datacenter and `stage: { type: s3 }`, so the target's worker reads the batches the
 * source's worker wrote to the bucket. Rows arrive equal, and the batches were in the bucket
 * (seen there while the pipeline is paused; nothing in a local directory). The us worker reaches the
 * bucket through the store's `endpoints.us` (a counting forwarder), the others through `endpoint`.
 * Also: `pipeline apply` refuses a stage bucket that does not exist; and pictures in an hz bucket
 * copied to a us bucket by the us worker (through its own endpoint), one request to the hz bucket
 * per small picture, and none of their bytes again when their rows are updated.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import type { Connection } from 'mysql2/promise';
import { startS3Server, type S3Server } from '../../client/servers/s3-server.js';
import { freePort } from '../../client/servers/ports.js';
import { copyFile } from '../../activities/files/copy-file.js';
import { s3ClientFor } from '../../activities/files/stores/s3-client.js';
import { S3Store } from '../../activities/files/stores/s3-store.js';
import { FileChangedError } from '../../activities/files/stores/file-store.js';
import { Cluster, dumpTable, waitFor } from '../support/cluster.js';
import { startTcpCounter, type TcpCounter } from '../../client/servers/tcp-counter.js';

let cluster: Cluster;
let s3: S3Server;
/** The address only us workers are given: whatever passes here came from the us worker. */
let usPath: TcpCounter;
/** The same for the hz picture bucket. */
let picsPath: TcpCounter;
let src: Connection;
let dst: Connection;

function config(bucket: string): string {
  return `dataSources:
  src: { type: mariadb, host: 127.0.0.1, port: ${cluster.source.port}, user: seaotter, passwordEnv: SRC_PW, datacenter: hz }
  dst: { type: mariadb, host: 127.0.0.1, port: ${cluster.target.port}, user: seaotter, passwordEnv: DST_PW, datacenter: us }
  stage-us: { type: s3, endpoint: "${s3.endpoint}", endpoints: { us: "http://127.0.0.1:${usPath.port}" }, bucket: ${bucket},
              accessKeyEnv: S3_KEY, secretKeyEnv: S3_SECRET, datacenter: us }
  pics-hz: { type: s3, endpoint: "${s3.endpoint}", endpoints: { us: "http://127.0.0.1:${picsPath.port}" }, bucket: pics-hz,
             accessKeyEnv: S3_KEY, secretKeyEnv: S3_SECRET, datacenter: hz }
  pics-us: { type: s3, endpoint: "${s3.endpoint}", bucket: pics-us, accessKeyEnv: S3_KEY, secretKeyEnv: S3_SECRET, datacenter: us }
stage: { type: s3, source: stage-us, prefix: batches/ }
pipelines:
  - id: far
    source: src
    target: dst
    tables: [{ source: app.t }]
  - id: pics
    source: src
    target: dst
    tables: [{ source: app.pics, files: [{ column: path, from: pics-hz, to: pics-us }] }]
    batch: { inlineMaxBytes: 65536 }
`;
}

before(async () => {
  [cluster, s3] = await Promise.all([Cluster.start({ name: 's3-stage' }), startS3Server()]);
  process.env.S3_KEY = s3.accessKey;
  process.env.S3_SECRET = s3.secretKey;
  await s3.createBucket('stage-bucket');
  await s3.createBucket('pics-hz');
  await s3.createBucket('pics-us');
  usPath = await startTcpCounter(s3.port);
  picsPath = await startTcpCounter(s3.port);
  src = await cluster.source.connect();
  dst = await cluster.target.connect();
  for (const c of [src, dst]) {
    await c.query('CREATE DATABASE app');
    await c.query('CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(100), n BIGINT, b VARBINARY(64))');
    await c.query('CREATE TABLE app.pics (id INT PRIMARY KEY, path VARCHAR(100), n INT NOT NULL DEFAULT 0)');
  }
});

after(async () => {
  await src?.end();
  await dst?.end();
  await cluster?.close();
  await usPath?.close();
  await picsPath?.close();
  await s3?.stop();
});

test('apply refuses a stage bucket that does not exist', async () => {
  await cluster.writeConfig(config('no-such-bucket'));
  const r = await cluster.cli(['pipeline', 'apply', '--config', cluster.configPath]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /dataSources\.stage-us: bucket no-such-bucket does not exist/);
});

test('apply with a store that cannot be reached (nothing listens) exits 2, naming it', async () => {
  const port = await freePort();
  await cluster.writeConfig(config('stage-bucket').replace(`endpoint: "${s3.endpoint}", bucket: pics-us`, `endpoint: "http://127.0.0.1:${port}", bucket: pics-us`));
  const r = await cluster.cli(['pipeline', 'apply', '--config', cluster.configPath]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, new RegExp(`^seaotter: dataSources\\.pics-us: cannot reach bucket pics-us at http://127\\.0\\.0\\.1:${port}`));
});

test('a worker per datacenter, batches through the S3 stage: rows equal', async () => {
  await cluster.writeConfig(config('stage-bucket'));
  cluster.startWorker('hz');
  cluster.startWorker('us');
  await cluster.cliOk(['pipeline', 'apply', '--config', cluster.configPath]);
  assert.equal(usPath.connections, 0, "apply's bucket check (no datacenter) uses endpoint");
  await src.query("INSERT INTO app.t VALUES (1, 'first', 1, x'00ff')");
  await waitFor('first row', async () => (await dumpTable(dst, 'app.t')).length === 1, 120_000);
  for (let i = 0; i < 40; i++) {
    await src.query('INSERT INTO app.t VALUES (?, ?, ?, ?) ON DUPLICATE KEY UPDATE v = VALUES(v), n = n + 1', [2 + (i % 25), `v${i}`, i, Buffer.from([i, 255 - i])]);
    if (i % 7 === 0) await src.query('DELETE FROM app.t WHERE id = ?', [2 + ((i * 3) % 25)]);
  }
  // Paused, batches are captured and transformed but not loaded: they wait in the bucket.
  await cluster.cliOk(['pipeline', 'pause', 'far']);
  await src.query("INSERT INTO app.t VALUES (100, 'while paused', 0, NULL)");
  const client = s3.client();
  const keys = await waitFor('staged batches in the bucket', async () => {
    const listed = await client.send(new ListObjectsV2Command({ Bucket: 'stage-bucket', Prefix: 'batches/far/' }));
    const found = (listed.Contents ?? []).map((o) => o.Key!);
    return found.some((k) => k.includes('/transformed/')) ? found : null;
  }, 60_000, 200);
  client.destroy();
  assert.ok(keys.every((k) => k.startsWith('batches/far/')));
  assert.deepEqual(await dumpTable(dst, 'app.t').then((rows) => rows.filter((r) => r.startsWith('[100,'))), []);
  await cluster.cliOk(['pipeline', 'resume', 'far']);

  const want = await dumpTable(src, 'app.t');
  await waitFor('rows equal', async () => JSON.stringify(await dumpTable(dst, 'app.t')) === JSON.stringify(want), 120_000, 300);
  assert.ok(!existsSync(path.join(cluster.dir, 'stage')), 'nothing was staged locally');
  assert.ok(usPath.connections > 0 && usPath.bytesToClient > 0, `the us worker read the stage through endpoints.us (${usPath.connections} connections)`);
});

test('pictures in an hz bucket reach a us bucket, copied by the us worker with one request each, not again on updates', async () => {
  // 30 small pictures, an empty one, one of 6 MiB and one of 20 MiB: over the in-memory limit,
  // the last two continue after their first 4 MiB in a request of their own (the 20 MiB one in
  // parts, a multipart upload into the us bucket).
  const MIB = 1024 * 1024;
  const sizes = [...Array.from({ length: 30 }, (_, i) => 10_000 + i * 3_000), 0, 6 * MIB, 20 * MIB];
  const pics = sizes.map((size, i) => ({ id: i + 1, key: `p/${i + 1}.jpg`, body: randomBytes(size) }));
  const client = s3.client();
  for (const p of pics) await client.send(new PutObjectCommand({ Bucket: 'pics-hz', Key: p.key, Body: p.body }));
  client.destroy();
  const before = { ...picsPath.requests };
  const bytesAtStart = picsPath.bytesToClient;
  await src.query('INSERT INTO app.pics (id, path) VALUES ?', [pics.slice(0, 15).map((p) => [p.id, p.key])]);
  await src.query('INSERT INTO app.pics (id, path) VALUES ?', [pics.slice(15).map((p) => [p.id, p.key])]);
  const want = await dumpTable(src, 'app.pics');
  await waitFor('picture rows equal', async () => JSON.stringify(await dumpTable(dst, 'app.pics')) === JSON.stringify(want), 120_000, 300);
  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
  const reader = s3.client();
  const copied = async (key: string) => {
    const got = await reader.send(new GetObjectCommand({ Bucket: 'pics-us', Key: key }));
    return { sha256: sha(Buffer.from(await got.Body!.transformToByteArray())), meta: got.Metadata ?? {} };
  };
  for (const p of pics) {
    const c = await copied(p.key);
    assert.equal(c.sha256, sha(p.body), p.key);
    assert.equal(c.meta['seaotter-sha256'], sha(p.body), `${p.key}: its checksum recorded`);
    assert.ok(c.meta['seaotter-source-version'], `${p.key}: the source version it came from recorded`);
  }
  // Only the us worker is given this address: the copies ran there. A small picture took one
  // GET of its first 4 MiB, which is all of it (no HEAD first); the empty one a second GET, as
  // its byte 0 cannot be asked for; a large one a GET of its first 4 MiB, then the rest at the
  // version the first gave (If-Match), hashed on the way: the 6 MiB one in one more GET, the
  // 20 MiB one in a ranged GET per 8 MiB part (the rest of part 1, parts 2 and 3). The source
  // keeps no checksum of seaotter's, and the us bucket had nothing to compare with, so no hashing
  // read first. Every byte crossed once.
  const gets = (picsPath.requests.GET ?? 0) - (before.GET ?? 0);
  const heads = (picsPath.requests.HEAD ?? 0) - (before.HEAD ?? 0);
  const total = sizes.reduce((a, b) => a + b, 0);
  const crossed = picsPath.bytesToClient - bytesAtStart;
  assert.equal(heads, 0, 'no stat of the source before reading it');
  assert.equal(gets, 30 + 2 + 2 + (1 + 3), `GETs to the hz bucket: ${JSON.stringify(picsPath.requests)}`);
  assert.ok(crossed < total + 200 * 1024, `each picture crossed once: ${crossed} bytes for ${total}`);
  console.log(`pictures copied: ${gets} GETs, ${crossed} bytes across for ${total} bytes of pictures`);

  // Every row updated, its picture unchanged: each is asked for once more, and the hz bucket
  // answers "not modified" (If-None-Match with the recorded version), so no picture crosses again.
  const [getsBefore, bytesBefore] = [picsPath.requests.GET ?? 0, picsPath.bytesToClient];
  await src.query('UPDATE app.pics SET n = n + 1');
  const updated = await dumpTable(src, 'app.pics');
  await waitFor('updated rows equal', async () => JSON.stringify(await dumpTable(dst, 'app.pics')) === JSON.stringify(updated), 120_000, 300);
  const again = (picsPath.requests.GET ?? 0) - getsBefore;
  const bytesAgain = picsPath.bytesToClient - bytesBefore;
  assert.equal(again, pics.length, 'one conditional GET per picture named again');
  assert.ok(bytesAgain < pics.length * 2048, `only "not modified" answers crossed: ${bytesAgain} bytes for ${pics.length} pictures`);
  for (const p of pics) assert.equal((await copied(p.key)).sha256, sha(p.body), `${p.key} after the updates`);
  reader.destroy();
});

test('a source that ignores Range (a proxy in front of it): files over 4 MiB still copy byte for byte', async () => {
  await s3.createBucket('norange-src');
  await s3.createBucket('norange-dst');
  const config = (bucket: string) => ({ type: 's3' as const, endpoint: s3.endpoint, bucket, region: 'us-east-1', accessKeyEnv: 'S3_KEY', secretKeyEnv: 'S3_SECRET', datacenter: 'hz' });
  // A client of its own (clients are shared per endpoint, region and key variables).
  process.env.S3_KEY_NORANGE = s3.accessKey;
  const srcConfig = { ...config('norange-src'), accessKeyEnv: 'S3_KEY_NORANGE' };
  const src = new S3Store('norange-src', srcConfig);
  const dst = new S3Store('norange-dst', config('norange-dst'));
  let dropped = 0;
  s3ClientFor(srcConfig).middlewareStack.add(
    (next) => async (args) => {
      const headers = (args.request as { headers?: Record<string, string> }).headers;
      if (headers?.range) {
        delete headers.range;
        dropped++;
      }
      return next(args);
    },
    { step: 'build', name: 'dropRange' },
  );
  const client = s3.client();
  const MIB = 1024 * 1024;
  for (const size of [6 * MIB, 20 * MIB]) {
    const key = `r/${size}.bin`;
    const body = randomBytes(size);
    await client.send(new PutObjectCommand({ Bucket: 'norange-src', Key: key, Body: body }));
    assert.deepEqual(await copyFile(src, dst, key, { report: () => undefined }), { outcome: 'copied', bytes: size });
    const got = await client.send(new GetObjectCommand({ Bucket: 'norange-dst', Key: key }));
    const copied = Buffer.from(await got.Body!.transformToByteArray());
    assert.ok(copied.equals(body), `${key} byte for byte`);
  }
  client.destroy();
  // Each file: its first 4 MiB, then the rest in one request. The 20 MiB one goes up in parts,
  // which would each have read the file from byte 0 again: they are taken from that one request.
  assert.equal(dropped, 4, `requests whose Range header was dropped (${dropped})`);
  assert.equal(src.ignoresRanges, true);
});

test('small files read one after another share one connection: each answer is read to its end', async () => {
  // Across datacenters a new connection costs round trips (TCP, then TLS) before its request.
  await s3.createBucket('reuse-src');
  const counter = await startTcpCounter(s3.port);
  const config = { type: 's3' as const, endpoint: `http://127.0.0.1:${counter.port}`, bucket: 'reuse-src', region: 'us-east-1', accessKeyEnv: 'S3_KEY', secretKeyEnv: 'S3_SECRET', datacenter: 'hz' };
  const store = new S3Store('reuse-src', config);
  const client = s3.client();
  const bodies = Array.from({ length: 10 }, (_, i) => randomBytes(1_000 + i * 20_000));
  for (const [i, body] of bodies.entries()) await client.send(new PutObjectCommand({ Bucket: 'reuse-src', Key: `s/${i}`, Body: body }));
  client.destroy();
  for (const [i, body] of bodies.entries()) {
    const got = await store.fetch(`s/${i}`, 4 * 1024 * 1024);
    assert.ok(got && got !== 'unchanged' && got.content?.equals(body), `s/${i} read whole`);
  }
  assert.equal(counter.requests.GET, bodies.length);
  assert.equal(counter.connections, 1, `${bodies.length} reads over ${counter.connections} connections`);
  s3ClientFor(config).destroy();
  await counter.close();
});

test('a source that ignores If-Match: a read at a version the object no longer has fails (FileChangedError), not mixing versions', async () => {
  await s3.createBucket('nomatch-src');
  process.env.S3_KEY_NOMATCH = s3.accessKey;
  const config = { type: 's3' as const, endpoint: s3.endpoint, bucket: 'nomatch-src', region: 'us-east-1', accessKeyEnv: 'S3_KEY_NOMATCH', secretKeyEnv: 'S3_SECRET', datacenter: 'hz' };
  const store = new S3Store('nomatch-src', config);
  let dropped = 0;
  s3ClientFor(config).middlewareStack.add(
    (next) => async (args) => {
      const headers = (args.request as { headers?: Record<string, string> }).headers;
      if (headers?.['if-match']) {
        delete headers['if-match'];
        dropped++;
      }
      return next(args);
    },
    { step: 'build', name: 'dropIfMatch' },
  );
  const client = s3.client();
  const MIB = 1024 * 1024;
  await client.send(new PutObjectCommand({ Bucket: 'nomatch-src', Key: 'big.bin', Body: randomBytes(6 * MIB) }));
  const first = await store.fetch('big.bin', 4 * MIB);
  assert.ok(first && first !== 'unchanged' && first.head && first.info.version);
  await client.send(new PutObjectCommand({ Bucket: 'nomatch-src', Key: 'big.bin', Body: randomBytes(6 * MIB) }));
  client.destroy();
  await assert.rejects(store.readAtVersion('big.bin', first.info.version, 4 * MIB), (err: Error) => err instanceof FileChangedError && /changed while it was copied/.test(err.message));
  assert.equal(dropped, 1, 'the If-Match header was dropped');
  s3ClientFor(config).destroy();
});

test('a store that accepts connections and never answers (a link dropping packets): the read fails after the idle limit, not never', async () => {
  const sockets: net.Socket[] = [];
  const silent = net.createServer((s) => void sockets.push(s));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const port = (silent.address() as net.AddressInfo).port;
  const before = process.env.SEAOTTER_S3_IDLE_SECONDS;
  process.env.SEAOTTER_S3_IDLE_SECONDS = '1';
  const config = { type: 's3' as const, endpoint: `http://127.0.0.1:${port}`, bucket: 'silent', region: 'us-east-1', accessKeyEnv: 'S3_KEY', secretKeyEnv: 'S3_SECRET', datacenter: 'hz' };
  try {
    const store = new S3Store('silent', config);
    const started = Date.now();
    const outcome = await Promise.race([
      store.fetch('p.jpg', 4 * 1024 * 1024).then(() => 'answered', (err: Error) => err.name),
      new Promise((r) => setTimeout(() => r('still waiting after 30 s'), 30_000)),
    ]);
    assert.equal(outcome, 'TimeoutError', `after ${Date.now() - started} ms`);
    assert.ok(sockets.length >= 1, 'the request reached the silent server');
  } finally {
    if (before === undefined) delete process.env.SEAOTTER_S3_IDLE_SECONDS;
    else process.env.SEAOTTER_S3_IDLE_SECONDS = before;
    s3ClientFor(config).destroy();
    for (const s of sockets) s.destroy();
    silent.close();
  }
});
