/**
 * What one file's copy asks of its stores (activities/files/copy-file.ts): a small file costs one
 * request to the source, often in the other datacenter (a fetch that brings size, checksum and
 * bytes), never a stat then a read; a file the target has is skipped; a larger one is streamed in
 * a second request; a missing one is reported; bytes that contradict the source's recorded
 * checksum fail the copy; a file named again is not sent again while the source keeps the version
 * the copy recorded; larger files stream a few at a time. A worker copies up to 64 files at
 * once over all batches, the oldest batch's first. Then the same against real dir stores.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, test } from 'node:test';
import { copyFile, STREAMED_CONCURRENCY } from '../../activities/files/copy-file.js';
import { COPY_CONCURRENCY, queueCopy, setCopyConcurrency } from '../../activities/files/copy-files.js';
import { DirStore } from '../../activities/files/stores/dir-store.js';
import { FileChangedError, type FileInfo, type FileStore } from '../../activities/files/stores/file-store.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const noResume = { report: () => undefined, note: () => undefined };

/** An in-memory store that records every call made to it. */
type MemoryFile = { body: Buffer; sha256?: string; version?: string; sourceVersion?: string };

/** `guarded`: the store reads at a version (as S3 does, by If-Match). */
function memoryStore(name: string, files: Record<string, MemoryFile> = {}, opts: { guarded?: boolean } = {}) {
  const calls: string[] = [];
  const map = new Map(Object.entries(files));
  const info = (f: MemoryFile): FileInfo => ({
    size: f.body.length,
    ...(f.sha256 ? { sha256: f.sha256 } : {}),
    version: f.version ?? 'v1',
    ...(f.sourceVersion ? { sourceVersion: f.sourceVersion } : {}),
  });
  const store: FileStore = {
    name,
    async stat(key) {
      calls.push(`stat ${key}`);
      const f = map.get(key);
      return f ? info(f) : null;
    },
    async fetch(key, limit, unlessVersion) {
      const f = map.get(key);
      if (f && unlessVersion !== undefined && info(f).version === unlessVersion) {
        calls.push(`fetch ${key}: unchanged`);
        return 'unchanged';
      }
      calls.push(`fetch ${key}`);
      if (!f) return null;
      return f.body.length <= limit ? { info: info(f), content: Buffer.from(f.body) } : { info: info(f) };
    },
    async sha256(key) {
      calls.push(`sha256 ${key}`);
      return sha(map.get(key)!.body);
    },
    async read(key) {
      calls.push(`read ${key}`);
      return Readable.from([map.get(key)!.body]);
    },
    ...(opts.guarded
      ? {
          async readAtVersion(key: string, version: string) {
            calls.push(`read ${key} at ${version}`);
            const f = map.get(key)!;
            if (info(f).version !== version) throw new FileChangedError(`${key} is no longer ${version}`);
            return Readable.from([f.body]);
          },
        }
      : {}),
    async write(key, body, _size, sha256, sourceVersion) {
      calls.push(`write ${key}`);
      const chunks: Buffer[] = [];
      for await (const c of body) chunks.push(c as Buffer);
      map.set(key, { body: Buffer.concat(chunks), sha256, ...(sourceVersion ? { sourceVersion } : {}) });
    },
    async remove(key) {
      map.delete(key);
    },
    async check() {},
  };
  return { store, calls, map };
}

test('a small file: one fetch from the source, a stat and a write at the target', async () => {
  const body = randomBytes(100_000);
  const src = memoryStore('src', { 'a.jpg': { body } });
  const dst = memoryStore('dst');
  assert.deepEqual(await copyFile(src.store, dst.store, 'a.jpg', noResume), { outcome: 'copied', bytes: 100_000 });
  assert.deepEqual(src.calls, ['fetch a.jpg']);
  assert.deepEqual(dst.calls, ['stat a.jpg', 'write a.jpg']);
  assert.deepEqual(dst.map.get('a.jpg'), { body, sha256: sha(body), sourceVersion: 'v1' }, 'the copy records the source version it came from');

  // Named again (the row updated): the source's version is still the one recorded, so it sends nothing.
  src.calls.length = dst.calls.length = 0;
  assert.equal((await copyFile(src.store, dst.store, 'a.jpg', noResume)).outcome, 'skipped');
  assert.deepEqual(src.calls, ['fetch a.jpg: unchanged']);
  assert.deepEqual(dst.calls, ['stat a.jpg']);

  // The source changed: it comes again, and the copy records the new version.
  const changed = randomBytes(50_000);
  src.map.set('a.jpg', { body: changed, version: 'v2' });
  src.calls.length = dst.calls.length = 0;
  assert.deepEqual(await copyFile(src.store, dst.store, 'a.jpg', noResume), { outcome: 'copied', bytes: 50_000 });
  assert.deepEqual(src.calls, ['fetch a.jpg']);
  assert.deepEqual(dst.map.get('a.jpg'), { body: changed, sha256: sha(changed), sourceVersion: 'v2' });

  // A target with the same bytes but no record of its source (written by others) is compared by checksum.
  const other = memoryStore('dst', { 'a.jpg': { body: changed, sha256: sha(changed) } });
  assert.equal((await copyFile(src.store, other.store, 'a.jpg', noResume)).outcome, 'skipped');
  assert.deepEqual(other.calls, ['stat a.jpg']);
});

test('a file over the in-memory limit: its info from the fetch, its bytes streamed in a second request', async () => {
  const body = randomBytes(5 * 1024 * 1024);
  const src = memoryStore('src', { 'big.bin': { body, sha256: sha(body) } });
  const dst = memoryStore('dst');
  assert.deepEqual(await copyFile(src.store, dst.store, 'big.bin', noResume), { outcome: 'copied', bytes: body.length });
  assert.deepEqual(src.calls, ['fetch big.bin', 'read big.bin'], 'the source keeps the checksum: no hashing pass');
  assert.equal(dst.map.get('big.bin')!.sha256, sha(body));

  // Without a recorded checksum it is hashed in a streamed pass first.
  const bare = memoryStore('src', { 'big.bin': { body } });
  const dst2 = memoryStore('dst');
  assert.equal((await copyFile(bare.store, dst2.store, 'big.bin', noResume)).outcome, 'copied');
  assert.deepEqual(bare.calls, ['fetch big.bin', 'sha256 big.bin', 'read big.bin']);
  assert.ok(dst2.map.get('big.bin')!.body.equals(body));
});

test('over the in-memory limit, its checksum unknown: read once at the version fetched, unless the target has a file of its size', async () => {
  const body = randomBytes(5 * 1024 * 1024);
  const src = memoryStore('src', { 'big.bin': { body, version: '"e1"' } }, { guarded: true });
  const dst = memoryStore('dst');
  assert.deepEqual(await copyFile(src.store, dst.store, 'big.bin', noResume), { outcome: 'copied', bytes: body.length });
  assert.deepEqual(src.calls, ['fetch big.bin', 'read big.bin at "e1"'], 'no hashing pass: nothing to compare with');
  assert.deepEqual(dst.map.get('big.bin'), { body, sha256: sha(body), sourceVersion: '"e1"' });

  // A target file of another size: nothing to compare either.
  const shorter = memoryStore('dst', { 'big.bin': { body: body.subarray(1) } });
  src.calls.length = 0;
  assert.equal((await copyFile(src.store, shorter.store, 'big.bin', noResume)).outcome, 'copied');
  assert.deepEqual(src.calls, ['fetch big.bin', 'read big.bin at "e1"']);

  // A target file of the same size, not recorded as this version: the checksums decide.
  const same = memoryStore('dst', { 'big.bin': { body, sha256: sha(body) } });
  src.calls.length = 0;
  assert.equal((await copyFile(src.store, same.store, 'big.bin', noResume)).outcome, 'skipped');
  assert.deepEqual(src.calls, ['fetch big.bin', 'sha256 big.bin']);

  // Changed between the fetch and the read: the copy fails (and is retried), nothing written.
  const fetch = src.store.fetch.bind(src.store);
  src.store.fetch = async (key, limit, unless) => {
    const r = await fetch(key, limit, unless);
    src.map.get(key)!.version = '"e2"';
    return r;
  };
  const fresh = memoryStore('dst');
  await assert.rejects(copyFile(src.store, fresh.store, 'big.bin', noResume), FileChangedError);
  assert.equal(fresh.map.size, 0);
});

test('a missing source file is reported; bytes that contradict the recorded checksum fail the copy', async () => {
  const dst = memoryStore('dst');
  assert.equal((await copyFile(memoryStore('src').store, dst.store, 'gone.jpg', noResume)).outcome, 'missing');
  assert.deepEqual(dst.calls, ['stat gone.jpg']);

  const src = memoryStore('src', { 'b.jpg': { body: Buffer.from('new bytes'), sha256: sha(Buffer.from('old bytes')) } });
  await assert.rejects(copyFile(src.store, dst.store, 'b.jpg', noResume), /file b\.jpg changed while it was copied/);
  assert.equal(dst.map.size, 0, 'nothing written');
});

test('larger files stream a few at a time in a process', async () => {
  const body = randomBytes(5 * 1024 * 1024);
  const files = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`f${i}`, { body, sha256: sha(body) }]));
  const src = memoryStore('src', files);
  let reading = 0;
  let peak = 0;
  const read = src.store.read.bind(src.store);
  src.store.read = async (key) => {
    peak = Math.max(peak, ++reading);
    await new Promise((r) => setTimeout(r, 20));
    const stream = await read(key);
    stream.on('end', () => reading--);
    return stream;
  };
  const dst = memoryStore('dst');
  const outcomes = await Promise.all(Object.keys(files).map((k) => copyFile(src.store, dst.store, k, noResume)));
  assert.deepEqual(new Set(outcomes.map((c) => c.outcome)), new Set(['copied']));
  assert.equal(peak, STREAMED_CONCURRENCY, `at most ${STREAMED_CONCURRENCY} streamed at once, and as many`);
});

test('two copies of one large key in a process go one after the other (each would abort the other\'s upload)', async () => {
  const body = randomBytes(5 * 1024 * 1024);
  const src = memoryStore('src', { 'k.bin': { body, sha256: sha(body) }, 'other.bin': { body, sha256: sha(body) } });
  const active = new Map<string, number>();
  let peakSameKey = 0;
  let peakAll = 0;
  const read = src.store.read.bind(src.store);
  const newer = randomBytes(body.length);
  src.store.read = async (key) => {
    active.set(key, (active.get(key) ?? 0) + 1);
    peakSameKey = Math.max(peakSameKey, active.get('k.bin') ?? 0);
    peakAll = Math.max(peakAll, [...active.values()].reduce((a, b) => a + b, 0));
    await new Promise((r) => setTimeout(r, 30));
    const stream = await read(key);
    stream.on('end', () => active.set(key, active.get(key)! - 1));
    // The file changes at the source while the first copy reads it: the second has to copy too.
    if (key === 'k.bin') src.map.set('k.bin', { body: newer, sha256: sha(newer), version: 'v2' });
    return stream;
  };
  const dst = memoryStore('dst');
  const outcomes = await Promise.all(['k.bin', 'k.bin', 'other.bin'].map((k) => copyFile(src.store, dst.store, k, noResume)));
  assert.deepEqual(outcomes.map((c) => c.outcome), ['copied', 'copied', 'copied']);
  assert.ok(dst.map.get('k.bin')!.body.equals(newer), 'the later copy, of the newer version, wrote last');
  assert.equal(peakSameKey, 1, 'never two copies of k.bin at once');
  assert.equal(peakAll, 2, 'another key goes alongside');
});

test('two copies of one small key in a process: the later asks again after the earlier wrote, so the newer version stays', async () => {
  const v1 = randomBytes(1000);
  const v2 = randomBytes(1200);
  const src = memoryStore('src', { 'p.jpg': { body: v1, version: 'v1' } });
  const dst = memoryStore('dst');
  // The first copy's write is slow; the file changes at the source meanwhile.
  const write = dst.store.write.bind(dst.store);
  let writes = 0;
  dst.store.write = async (key, body, size, sha256, sourceVersion) => {
    if (writes++ === 0) await new Promise((r) => setTimeout(r, 50));
    return write(key, body, size, sha256, sourceVersion);
  };
  const first = copyFile(src.store, dst.store, 'p.jpg', noResume);
  await new Promise((r) => setTimeout(r, 10));
  src.map.set('p.jpg', { body: v2, version: 'v2' });
  const second = copyFile(src.store, dst.store, 'p.jpg', noResume);
  assert.deepEqual(await Promise.all([first, second]), [{ outcome: 'copied', bytes: 1000 }, { outcome: 'copied', bytes: 1200 }]);
  assert.deepEqual(dst.map.get('p.jpg'), { body: v2, sha256: sha(v2), sourceVersion: 'v2' }, 'the target keeps the version the source has');
  // The second fetched v2 before the first wrote, then, in its turn, found the key written since
  // and asked again against the version written (v1): the source still has v2, so v2 goes.
  assert.deepEqual(src.calls, ['fetch p.jpg', 'fetch p.jpg', 'fetch p.jpg']);
  assert.deepEqual(dst.calls, ['stat p.jpg', 'stat p.jpg', 'write p.jpg', 'stat p.jpg', 'write p.jpg']);

  // Named again by two batches at once, the file unchanged: both are told so at once, no turn taken.
  src.calls.length = dst.calls.length = 0;
  writes = 1;
  assert.deepEqual(await Promise.all([copyFile(src.store, dst.store, 'p.jpg', noResume), copyFile(src.store, dst.store, 'p.jpg', noResume)]).then((r) => r.map((c) => c.outcome)), ['skipped', 'skipped']);
  assert.deepEqual(src.calls, ['fetch p.jpg: unchanged', 'fetch p.jpg: unchanged']);
});

test('told "unchanged" while another copy of the key writes: it looks again after it, so the source\'s version stays', async () => {
  const v1 = randomBytes(900);
  const v2 = randomBytes(1100);
  const src = memoryStore('src', { 'q.jpg': { body: v1, version: 'v1' } });
  const dst = memoryStore('dst');
  assert.equal((await copyFile(src.store, dst.store, 'q.jpg', noResume)).outcome, 'copied');
  // The source changes to v2, a copy fetches it and writes slowly; meanwhile the source goes back to v1.
  src.map.set('q.jpg', { body: v2, version: 'v2' });
  const write = dst.store.write.bind(dst.store);
  let slow = true;
  dst.store.write = async (key, body, size, sha256, sourceVersion) => {
    if (slow) await new Promise((r) => setTimeout(r, 50));
    slow = false;
    return write(key, body, size, sha256, sourceVersion);
  };
  const first = copyFile(src.store, dst.store, 'q.jpg', noResume);
  await new Promise((r) => setTimeout(r, 10));
  src.map.set('q.jpg', { body: v1, version: 'v1' });
  const second = copyFile(src.store, dst.store, 'q.jpg', noResume);
  assert.deepEqual((await Promise.all([first, second])).map((c) => c.outcome), ['copied', 'copied']);
  assert.ok(dst.map.get('q.jpg')!.body.equals(v1), 'the target holds what the source holds');
});

test('copy slots: at most COPY_CONCURRENCY at once; a freed slot goes to the oldest batch waiting', async () => {
  const release: (() => void)[] = [];
  let running = 0;
  let peak = 0;
  const blocker = () => queueCopy(1000, () => new Promise<void>((r) => {
    peak = Math.max(peak, ++running);
    release.push(() => {
      running--;
      r();
    });
  }));
  const held = Array.from({ length: COPY_CONCURRENCY + 2 }, blocker);
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(running, COPY_CONCURRENCY);
  const order: string[] = [];
  const newer = queueCopy(3000, async () => void order.push('newer batch'));
  const older = queueCopy(2000, async () => void order.push('older batch'));
  // The two blockers queued before them are older still (1000); then the older batch, the newer.
  while (release.length) {
    release.shift()!();
    await new Promise((r) => setTimeout(r, 1));
  }
  await Promise.all([...held, newer, older]);
  assert.deepEqual(order, ['older batch', 'newer batch']);
  assert.equal(peak, COPY_CONCURRENCY);

  // seaotter worker --copy-concurrency 4
  setCopyConcurrency(4);
  try {
    peak = 0;
    const few = Array.from({ length: 10 }, () => queueCopy(1, async () => {
      peak = Math.max(peak, ++running);
      await new Promise((r) => setTimeout(r, 5));
      running--;
    }));
    await Promise.all(few);
    assert.equal(peak, 4);
  } finally {
    setCopyConcurrency(COPY_CONCURRENCY);
  }
});

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test('dir stores: fetch gives a small file with its info, only the info of a larger one, null for none', async () => {
  const [a, b] = [mkdtempSync(join(tmpdir(), 'seaotter-copy-a-')), mkdtempSync(join(tmpdir(), 'seaotter-copy-b-'))];
  dirs.push(a, b);
  const body = randomBytes(2000);
  writeFileSync(join(a, 'x.dat'), body);
  const src = new DirStore('a', a);
  const small = await src.fetch('x.dat', 4096);
  assert.ok(small && small !== 'unchanged');
  assert.equal(small.info.size, 2000);
  assert.ok(small.content?.equals(body));
  const large = await src.fetch('x.dat', 1000);
  assert.ok(large && large !== 'unchanged');
  assert.equal(large.info.size, 2000);
  assert.equal(large.content, undefined);
  assert.equal(await src.fetch('nope.dat', 4096), null);
  assert.equal(await src.fetch('x.dat', 4096, small.info.version), 'unchanged');
  assert.notEqual(await src.fetch('x.dat', 4096, 'another version'), 'unchanged');
  assert.equal((await copyFile(src, new DirStore('b', b), 'x.dat', noResume)).outcome, 'copied');
  assert.ok(readFileSync(join(b, 'x.dat')).equals(body));
  assert.equal((await copyFile(src, new DirStore('b', b), 'x.dat', noResume)).outcome, 'skipped');
});
