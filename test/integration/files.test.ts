/**
 * Files copied with their rows, against a real S3-compatible server (versitygw) and local dirs:
 * 2,000 small files and three of 100 MiB (multipart) named by rows, the worker killed with -9 in
 * the middle of the copy (a large file part-way up) and restarted, the large file going on from
 * its last recorded part, then every target object's SHA-256 equal to its source's
 * and the rows equal; s3 → dir with a template and `onDelete: delete`; dir → dir keeping files of
 * deleted rows; a resolver module; file plans staged (pics) or inline in the batch's activity
 * inputs (docs, batch.inlineMaxBytes), deleteFiles run only where it has work; apply refusing a missing file column or store; a missing source file halting the pipeline (the key in `lastError`) until it is
 * restored, and with `onMissing: skip` counted in status.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, test } from 'node:test';
import { ListMultipartUploadsCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { Connection } from 'mysql2/promise';
import { formatStatus, pipelineStatus } from '../../client/pipeline-commands.js';
import { startS3Server, type S3Server } from '../../client/servers/s3-server.js';
import { freePort } from '../../client/servers/ports.js';
import { Cluster, dumpTable, metricValue, scrapeMetrics, waitFor } from '../support/cluster.js';

const SMALL = 2000;
const LARGE = 3;
const LARGE_BYTES = 100 * 1024 * 1024;

let cluster: Cluster;
let s3: S3Server;
let src: Connection;
let dst: Connection;
let dirA: string;
let dirB: string;
/** The restarted worker's metrics port (from the first test on). */
let metricsPort: number;

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

/** Every file below dir, as relative path → absolute path (the posix backend keeps objects as files). */
async function filesBelow(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const abs = path.join(e.parentPath, e.name);
    const rel = path.relative(dir, abs);
    // The S3 server's own temp files (multipart parts in flight) are not objects.
    if (!rel.split(path.sep).some((s) => s.startsWith('.sgw'))) out.set(rel, abs);
  }
  return out;
}

/** Uploads with concurrency `limit`. */
async function uploadAll(items: { key: string; body: Buffer }[], bucket: string, limit = 16): Promise<void> {
  const client = s3.client();
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) {
        const it = items[next++];
        await client.send(new PutObjectCommand({ Bucket: bucket, Key: it.key, Body: it.body }));
      }
    }),
  );
  client.destroy();
}

/** A large object streamed up in random 1 MiB chunks, never whole in memory. */
async function uploadLarge(bucket: string, key: string, bytes: number): Promise<void> {
  let left = bytes;
  const body = Readable.from(
    (function* () {
      while (left > 0) {
        const n = Math.min(left, 1024 * 1024);
        left -= n;
        yield randomBytes(n);
      }
    })(),
  );
  const client = s3.client();
  await new Upload({ client, params: { Bucket: bucket, Key: key, Body: body }, partSize: 16 * 1024 * 1024 }).done();
  client.destroy();
}

function filesYaml(): string {
  return [
    `  pics-src: { type: s3, endpoint: "${s3.endpoint}", bucket: pics-src, accessKeyEnv: S3_KEY, secretKeyEnv: S3_SECRET, datacenter: hz }`,
    `  pics-dst: { type: s3, endpoint: "${s3.endpoint}", bucket: pics-dst, accessKeyEnv: S3_KEY, secretKeyEnv: S3_SECRET, datacenter: hz }`,
    `  dir-a: { type: dir, path: ${dirA}, datacenter: hz }`,
    `  dir-b: { type: dir, path: ${dirB}, datacenter: hz }`,
  ].join('\n');
}

before(async () => {
  [cluster, s3] = await Promise.all([Cluster.start({ name: 'files' }), startS3Server()]);
  process.env.S3_KEY = s3.accessKey;
  process.env.S3_SECRET = s3.secretKey;
  for (const b of ['pics-src', 'pics-dst']) await s3.createBucket(b);
  dirA = path.join(cluster.dir, 'dir-a');
  dirB = path.join(cluster.dir, 'dir-b');
  await Promise.all([mkdir(dirA), mkdir(dirB)]);
  src = await cluster.source.connect();
  dst = await cluster.target.connect();
  for (const c of [src, dst]) {
    await c.query('CREATE DATABASE app');
    await c.query('CREATE TABLE app.pics (id INT PRIMARY KEY, path VARCHAR(200), size BIGINT)');
    await c.query('CREATE TABLE app.docs (id INT PRIMARY KEY, name VARCHAR(100))');
    await c.query('CREATE TABLE app.att (id INT PRIMARY KEY, file VARCHAR(100))');
    await c.query('CREATE TABLE app.m1 (id INT PRIMARY KEY, file VARCHAR(100))');
    await c.query('CREATE TABLE app.m2 (id INT PRIMARY KEY, file VARCHAR(100))');
    await c.query('CREATE TABLE app.res (id INT PRIMARY KEY, kind VARCHAR(10))');
  }
  // A resolver: each row names a picture and its thumbnail, by id and kind.
  await writeFile(path.join(cluster.dir, 'resolver.mjs'), 'export default (row, ctx) => [`${row.kind}/${row.id}.jpg`, `${row.kind}/${row.id}.thumb.jpg`];\n');
  const [sources, ...rest] = cluster.dataSourcesYaml().split('\n');
  await cluster.writeConfig(`${sources}\n${filesYaml()}\n${rest.join('\n')}
pipelines:
  - id: pics
    source: src
    target: dst
    tables:
      - source: app.pics
        files: [{ column: path, from: pics-src, to: pics-dst }]
  - id: docs
    source: src
    target: dst
    batch: { inlineMaxBytes: 65536 }
    tables:
      - source: app.docs
        files: [{ column: name, template: "docs/{id}/{value}", from: pics-src, to: dir-b, onDelete: delete }]
      - source: app.att
        files: [{ column: file, prefix: att/, from: dir-a, to: dir-b }]
      - source: app.res
        files: [{ resolver: ./resolver.mjs, prefix: res/, from: dir-a, to: dir-b }]
  - id: halts
    source: src
    target: dst
    tables:
      - source: app.m1
        files: [{ column: file, from: pics-src, to: pics-dst }]
  - id: skips
    source: src
    target: dst
    tables:
      - source: app.m2
        files: [{ column: file, from: pics-src, to: pics-dst, onMissing: skip }]
`);
  cluster.startWorker();
  await cluster.cliOk(['pipeline', 'apply', '--config', cluster.configPath]);
});

after(async () => {
  await src?.end();
  await dst?.end();
  await cluster?.close();
  await s3?.stop();
});

test('2,000 small and three 100 MiB files, worker killed mid-copy: every object and row arrives intact', async () => {
  const t0 = Date.now();
  const small = Array.from({ length: SMALL }, (_, i) => ({ key: `small/${i % 50}/${i}.bin`, body: randomBytes(512 + ((i * 7919) % 7680)) }));
  await uploadAll(small, 'pics-src');
  const large = Array.from({ length: LARGE }, (_, i) => `large/${i}.bin`);
  for (const key of large) await uploadLarge('pics-src', key, LARGE_BYTES);
  console.log(`uploaded ${SMALL} small and ${LARGE} large source objects in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

  // The large files sit in the middle of the rows (copies follow row order): the worker dies once
  // many small files are across and while a multipart upload of a large one is under way.
  const smallRows = small.map((f, i) => [i + 1, f.key, f.body.length]);
  const rows = [...smallRows.slice(0, SMALL / 2), ...large.map((key, i) => [100_000 + i, key, LARGE_BYTES]), ...smallRows.slice(SMALL / 2)];
  await src.query('INSERT INTO app.pics VALUES ?', [rows]);
  const t1 = Date.now();
  const dstRoot = path.join(s3.root, 'pics-dst');
  const client = s3.client();
  const uploading = async () => ((await client.send(new ListMultipartUploadsCommand({ Bucket: 'pics-dst' }))).Uploads ?? []).map((u) => u.Key!);
  // The worker dies while a large file is part-way up, once Temporal has its progress: `pipeline
  // status` shows (from copyFiles' heartbeat) a large file with at least two parts sent, and many
  // small files across.
  let shown = '';
  const underWay = await waitFor('a large file part-way up, shown by pipeline status', async () => {
    const st = await pipelineStatus(cluster.client, 'pics');
    for (const c of st.copying) {
      const f = c.largeFiles.find((l) => l.bytesDone >= 2 * 8 * 1024 * 1024);
      if (!f || c.filesDone < SMALL * 0.25) continue;
      assert.equal(c.files, SMALL + LARGE);
      assert.equal(f.bytes, LARGE_BYTES);
      shown = formatStatus(st);
      return { key: f.key, bytes: f.bytesDone, done: c.filesDone };
    }
    return undefined;
  }, 240_000, 50);
  console.log(`pipeline status before the kill:\n${shown}`);
  assert.match(shown, new RegExp(`copying files: seaotter-batch-pics-\\d+: \\d+ of ${SMALL + LARGE} files done.*${underWay.key.replace('.', '\\.')} \\d+\\.\\d of 100\\.0 MiB`));
  const partial = (await filesBelow(dstRoot)).size;
  await cluster.killWorker(cluster.workers[0]);
  const leftBehind = await uploading();
  const rowsAtKill = (await dumpTable(dst, 'app.pics')).length;
  console.log(`worker killed after ${((Date.now() - t1) / 1000).toFixed(1)} s with ${partial} of ${SMALL + LARGE} objects on the target, ${rowsAtKill} rows, uploading ${leftBehind.join(', ')}; heartbeat: ${underWay.key} at ${underWay.bytes} bytes`);
  assert.ok(partial < SMALL + LARGE, 'the copy was still running when the worker died');
  assert.equal(rowsAtKill, 0, 'no row loads before all its batch’s files are copied');

  metricsPort = await freePort();
  const restarted = cluster.startWorker('hz', { metricsPort });
  const want = await dumpTable(src, 'app.pics');
  await waitFor('rows on the target', async () => JSON.stringify(await dumpTable(dst, 'app.pics')) === JSON.stringify(want), 600_000, 500);
  console.log(`rows and files arrived ${((Date.now() - t1) / 1000).toFixed(1)} s after the insert`);

  const srcFiles = await filesBelow(path.join(s3.root, 'pics-src'));
  const dstFiles = await filesBelow(dstRoot);
  assert.deepEqual([...dstFiles.keys()].sort(), [...srcFiles.keys()].sort());
  for (const [key, file] of srcFiles) {
    assert.equal(await sha256File(dstFiles.get(key)!), await sha256File(file), `checksum of ${key}`);
  }
  for (const key of large) assert.equal((await stat(dstFiles.get(key)!)).size, LARGE_BYTES);
  assert.deepEqual(await uploading(), [], 'multipart uploads the killed worker left were aborted');
  client.destroy();
  const log = await readFile(restarted.logFile, 'utf8');
  // The retry resumed from the heartbeat's progress, not from scratch (the kill came after ≥ 500 copies).
  const resumed = /copyFiles resumes: (\d+) of (\d+) files were done/.exec(log);
  assert.ok(resumed, `the restarted worker resumed the copy:\n${log.slice(-3000)}`);
  console.log(`the retried copy resumed with ${resumed[1]} of ${resumed[2]} files done`);
  assert.ok(Number(resumed[1]) > 0);
  // …and the large file went on from its last recorded part, not from byte 0.
  const escaped = underWay.key.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  const from = new RegExp(`copy of ${escaped} resumes at byte (\\d+) of ${LARGE_BYTES}`).exec(log);
  assert.ok(from, `the copy of ${underWay.key} resumed part-way:\n${log.slice(-3000)}`);
  console.log(`${underWay.key} resumed at byte ${from[1]} (the heartbeat seen before the kill had ${underWay.bytes})`);
  assert.ok(Number(from[1]) >= underWay.bytes);
});

test('s3 → dir with a template and onDelete: delete; dir → dir keeps files of deleted rows; a resolver module', async () => {
  // Doc 21 is 20 MiB: into the dir store it goes part by part, through a partial file.
  const docs = Array.from({ length: 21 }, (_, i) => ({ id: i + 1, name: `doc-${i + 1}.txt`, body: randomBytes(i === 20 ? 20 * 1024 * 1024 : 300 + i) }));
  const client = s3.client();
  for (const d of docs) await client.send(new PutObjectCommand({ Bucket: 'pics-src', Key: `docs/${d.id}/${d.name}`, Body: d.body }));
  client.destroy();
  for (let i = 1; i <= 5; i++) await writeFile(path.join(dirA, `a${i}.dat`), randomBytes(1000 * i));
  await mkdir(path.join(dirA, 'att'), { recursive: true });
  for (let i = 1; i <= 5; i++) await writeFile(path.join(dirA, 'att', `a${i}.dat`), randomBytes(1000 * i));

  await src.query('INSERT INTO app.docs VALUES ?', [docs.map((d) => [d.id, d.name])]);
  await src.query('INSERT INTO app.att VALUES ?', [[1, 2, 3, 4, 5].map((i) => [i, `a${i}.dat`])]);
  for (const kind of ['cat', 'dog']) await mkdir(path.join(dirA, 'res', kind), { recursive: true });
  for (const [id, kind] of [[1, 'cat'], [2, 'dog']]) {
    for (const suffix of ['jpg', 'thumb.jpg']) await writeFile(path.join(dirA, 'res', String(kind), `${id}.${suffix}`), `${kind} ${id} ${suffix}`);
  }
  await src.query("INSERT INTO app.res VALUES (1, 'cat'), (2, 'dog')");
  for (const t of ['app.docs', 'app.att', 'app.res']) {
    const want = await dumpTable(src, t);
    await waitFor(`${t} rows`, async () => JSON.stringify(await dumpTable(dst, t)) === JSON.stringify(want), 120_000);
  }
  for (const d of docs) assert.deepEqual(await readFile(path.join(dirB, 'docs', String(d.id), d.name)), d.body, `doc ${d.id}`);
  assert.deepEqual(await readdir(path.join(dirB, 'docs', '21')), ['doc-21.txt'], 'no partial file left beside the large one');
  for (let i = 1; i <= 5; i++) {
    assert.equal(await sha256File(path.join(dirB, 'att', `a${i}.dat`)), await sha256File(path.join(dirA, 'att', `a${i}.dat`)));
  }
  assert.deepEqual([...(await filesBelow(path.join(dirB, 'res'))).keys()].sort(), ['cat/1.jpg', 'cat/1.thumb.jpg', 'dog/2.jpg', 'dog/2.thumb.jpg']);
  assert.equal(await readFile(path.join(dirB, 'res', 'dog', '2.thumb.jpg'), 'utf8'), 'dog 2 thumb.jpg');
  // The worker counts each file it wrote, with its bytes (Prometheus, --metrics-port).
  const bytes = docs.reduce((n, d) => n + d.body.length, 0) + 15_000 + ['cat 1 jpg', 'cat 1 thumb.jpg', 'dog 2 jpg', 'dog 2 thumb.jpg'].join('').length;
  const counted = await waitFor('docs files counted', async () => {
    const m = await scrapeMetrics(metricsPort);
    return metricValue(m, 'seaotter_files_copied_total', { pipeline: 'docs' }) === 30 ? m : null;
  }, 30_000);
  assert.equal(metricValue(counted, 'seaotter_file_bytes_copied_total', { pipeline: 'docs' }), bytes);
  assert.equal(metricValue(counted, 'seaotter_files_missing_total', { pipeline: 'docs' }), undefined);

  await src.query('DELETE FROM app.docs WHERE id <= 5');
  await src.query('DELETE FROM app.att WHERE id <= 2');
  for (const t of ['app.docs', 'app.att']) {
    const want = await dumpTable(src, t);
    await waitFor(`${t} rows after deletes`, async () => JSON.stringify(await dumpTable(dst, t)) === JSON.stringify(want), 120_000);
  }
  const gone = await waitFor('files of deleted docs removed', async () => {
    const left = await filesBelow(path.join(dirB, 'docs'));
    return left.size === 16 ? left : null;
  }, 60_000);
  for (const d of docs) assert.equal(gone.has(path.join(String(d.id), d.name)), d.id > 5, `doc ${d.id}`);
  assert.equal((await filesBelow(path.join(dirB, 'att'))).size, 5, 'onDelete: keep (the default) leaves the files');

  // A key deleted with its row and named again right after by a new row: the later batch's copy
  // comes after the earlier batch's delete, so the file is there.
  await src.query('DELETE FROM app.docs WHERE id = 6');
  await waitFor('doc 6 deleted on the target', async () => !(await dumpTable(dst, 'app.docs')).some((r) => r.startsWith('[6,')), 60_000);
  await src.query("INSERT INTO app.docs VALUES (6, 'doc-6.txt')");
  await waitFor('doc 6 again', async () => (await dumpTable(dst, 'app.docs')).some((r) => r.startsWith('[6,')), 60_000);
  assert.deepEqual(await readFile(path.join(dirB, 'docs', '6', 'doc-6.txt')), docs[5].body);

  // docs (batch.inlineMaxBytes) sent every file plan inline as well as staged (for target workers
  // of older builds): copyFiles reads no stage, deleteFiles ran only for batches that delete
  // files, and the load removed the other plans. pics (no inline) has only staged plans.
  const docs_ = await fileActivityInputs('docs');
  assert.ok(docs_.copies.length >= 4, `docs copied files in several batches: ${docs_.copies.length}`);
  for (const input of docs_.copies) assert.ok(input.includes('"filesInline"') && input.includes('"filesRef"'), `docs plan inline and staged: ${input.slice(0, 300)}`);
  assert.ok(docs_.deletes.length >= 2, `docs deleted files in batches of their own: ${docs_.deletes.length}`);
  for (const input of docs_.deletes) assert.match(input, /"fileDeletes":[1-9]/, 'deleteFiles only where files are deleted');
  const pics = await fileActivityInputs('pics');
  assert.ok(pics.copies.length > 0 && pics.copies.every((input) => input.includes('"filesRef"') && !input.includes('"filesInline"')), 'pics plans staged only');
  assert.equal(pics.deletes.length, pics.copies.length, 'a plan staged only is removed after its batch, by deleteFiles');
  for (const p of ['docs', 'pics']) {
    await waitFor(`${p}: no file plan left on the stage`, async () => (await readdir(path.join(cluster.dir, 'stage', p, 'files')).catch(() => [])).length === 0, 30_000);
  }
});

/** The inputs (as JSON text) of the copyFiles and deleteFiles activities of a pipeline's batches. */
async function fileActivityInputs(pipeline: string): Promise<{ copies: string[]; deletes: string[] }> {
  const out = { copies: [] as string[], deletes: [] as string[] };
  for await (const wf of cluster.client.workflow.list({ query: `WorkflowType = 'syncBatchWorkflow' AND SeaotterPipeline = '${pipeline}'` })) {
    const history = await cluster.client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
    for (const e of history.events ?? []) {
      const s = e.activityTaskScheduledEventAttributes;
      const name = s?.activityType?.name;
      if (name !== 'copyFiles' && name !== 'deleteFiles') continue;
      const data = s!.input?.payloads?.[0]?.data;
      (name === 'copyFiles' ? out.copies : out.deletes).push(data ? Buffer.from(data).toString('utf8') : '');
    }
  }
  return out;
}

test('apply refuses a file column the table lacks and a store that cannot be used', async () => {
  const text = (await readFile(cluster.configPath, 'utf8'))
    .replace('column: path, from: pics-src', 'column: picture, from: pics-src')
    .replace(`path: ${dirB}`, `path: ${dirB}-nowhere`);
  const bad = path.join(cluster.dir, 'bad.yaml');
  await writeFile(bad, text);
  const r = await cluster.cli(['pipeline', 'apply', '--config', bad]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /pipelines\.pics\.tables\[0\]\.files\[0\]: the source table app\.pics has no column "picture"/);
  assert.match(r.stderr, /dataSources\.dir-b: directory .*-nowhere does not exist/);
});

test('a missing source file halts the pipeline with its key, until the file is there and resume', async () => {
  await src.query("INSERT INTO app.m1 VALUES (1, 'there-not/1.jpg')");
  const halted = await waitFor('halted', async () => {
    const s = await pipelineStatus(cluster.client, 'halts');
    return s.state === 'halted' ? s : null;
  }, 120_000, 300);
  assert.match(halted.lastError!.message, /file there-not\/1\.jpg named by a row of app\.m1 .*is missing from pics-src/);
  assert.deepEqual(await dumpTable(dst, 'app.m1'), [], 'the row waits for its file');

  const client = s3.client();
  await client.send(new PutObjectCommand({ Bucket: 'pics-src', Key: 'there-not/1.jpg', Body: 'now it is' }));
  client.destroy();
  await cluster.cliOk(['pipeline', 'resume', 'halts']);
  await waitFor('row after resume', async () => (await dumpTable(dst, 'app.m1')).length === 1, 120_000);
  assert.equal(await readFile(path.join(s3.root, 'pics-dst', 'there-not', '1.jpg'), 'utf8'), 'now it is');
  assert.equal((await pipelineStatus(cluster.client, 'halts')).state, 'running');
});

test('onMissing: skip loads the rows and counts the missing files', async () => {
  const client = s3.client();
  await client.send(new PutObjectCommand({ Bucket: 'pics-src', Key: 'm2/ok.jpg', Body: 'ok' }));
  client.destroy();
  await src.query("INSERT INTO app.m2 VALUES (1, 'm2/ok.jpg'), (2, 'm2/gone-1.jpg'), (3, 'm2/gone-2.jpg'), (4, NULL)");
  const want = await dumpTable(src, 'app.m2');
  await waitFor('m2 rows', async () => JSON.stringify(await dumpTable(dst, 'app.m2')) === JSON.stringify(want), 120_000);
  const s = await waitFor('missing count', async () => {
    const st = await pipelineStatus(cluster.client, 'skips');
    return st.filesMissing === 2 ? st : null;
  }, 30_000);
  assert.equal(s.state, 'running');
  assert.equal(await readFile(path.join(s3.root, 'pics-dst', 'm2', 'ok.jpg'), 'utf8'), 'ok');
  const m = await scrapeMetrics(metricsPort);
  assert.equal(metricValue(m, 'seaotter_files_missing_total', { pipeline: 'skips' }), 2);
  assert.equal(metricValue(m, 'seaotter_files_copied_total', { pipeline: 'skips' }), 1);
  // The halted pipeline's missing file was counted with its failed attempt (test above).
  assert.ok((metricValue(m, 'seaotter_files_missing_total', { pipeline: 'halts' }) ?? 0) >= 1);
  assert.ok((metricValue(m, 'seaotter_file_copy_failures_total', { pipeline: 'halts', error: 'FileMissing' }) ?? 0) >= 1);
});
