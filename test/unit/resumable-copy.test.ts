/**
 * The part-by-part copy of large files (activities/files/resumable-copy.ts), against an in-memory
 * source and a fake multipart target, then a real dir store: a copy that fails mid-way resumes at the last
 * recorded part and uploads only the rest, the SHA-256 of the whole file is still verified, and a
 * changed source, a vanished upload or bytes that do not match start over or fail. Each part is a
 * ranged read of its own, taken whole while the part before uploads. A source whose checksum is
 * not known is read at its version, and the checksum taken on the way is recorded on the target
 * after the upload (only while the object is still the one written).
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, test } from 'node:test';
import { copyInParts, partSizeFor, type SourceVersion, type UploadProgress } from '../../activities/files/resumable-copy.js';
import { DirStore } from '../../activities/files/stores/dir-store.js';
import { FileChangedError, FileMissingError, PART_SIZE, type FileStore, type PartTarget } from '../../activities/files/stores/file-store.js';

const MIB = 1024 * 1024;

/** A source whose reads are recorded (start offsets) and come in odd-sized chunks; reads at a version check it is `version`. */
function memorySource(content: Buffer, version = 'v1') {
  const reads: number[] = [];
  const guardedReads: string[] = [];
  const chunked = (from: number, end?: number) => {
    const rest = content.subarray(from, end);
    const chunks: Buffer[] = [];
    for (let at = 0; at < rest.length; at += 300_007) chunks.push(rest.subarray(at, at + 300_007));
    return Readable.from(chunks);
  };
  const store = {
    name: 'src',
    read: async (_key: string, from = 0, end?: number) => {
      reads.push(from);
      return chunked(from, end);
    },
    readAtVersion: async (key: string, at: string, from = 0, end?: number) => {
      guardedReads.push(`${from}@${at}`);
      if (at !== version) throw new FileChangedError(`object ${key} in src changed while it was copied (it is no longer ${at})`);
      return chunked(from, end);
    },
  } as unknown as FileStore;
  return { store, reads, guardedReads };
}

/** A multipart target that keeps parts in memory and can fail one part number once. */
function fakeS3() {
  const uploads = new Map<string, Map<number, Buffer>>();
  const objects = new Map<string, { body: Buffer; sha256?: string; sourceVersion?: string; etag: string }>();
  const meta = new Map<string, { sha256?: string; sourceVersion?: string }>();
  const recorded: string[] = [];
  const uploadedParts: number[] = [];
  let failPart: number | undefined;
  let ids = 0;
  const etagOf = (b: Buffer) => `"${createHash('md5').update(b).digest('hex')}"`;
  const store = {
    name: 'dst',
    createUpload: async (_key: string, sha256: string | undefined, _partSize: number, sourceVersion?: string) => {
      const id = `u${++ids}`;
      uploads.set(id, new Map());
      meta.set(id, { sha256, sourceVersion });
      return id;
    },
    uploadPart: async (_key: string, id: string, n: number, body: Buffer) => {
      if (n === failPart) {
        failPart = undefined;
        throw new Error(`connection reset uploading part ${n}`);
      }
      const parts = uploads.get(id);
      if (!parts) throw Object.assign(new Error('NoSuchUpload'), { name: 'NoSuchUpload' });
      parts.set(n, Buffer.from(body));
      uploadedParts.push(n);
      return etagOf(body);
    },
    uploadedParts: async (_key: string, id: string) => {
      const parts = uploads.get(id);
      return parts ? new Map([...parts].map(([n, b]) => [n, etagOf(b)])) : null;
    },
    completeUpload: async (key: string, id: string, etags: string[]) => {
      const parts = uploads.get(id)!;
      const body = Buffer.concat(etags.map((e, i) => {
        assert.equal(etagOf(parts.get(i + 1)!), e, `ETag of part ${i + 1}`);
        return parts.get(i + 1)!;
      }));
      const etag = `"${createHash('md5').update(body).digest('hex')}-${etags.length}"`;
      objects.set(key, { body, ...meta.get(id)!, etag });
      uploads.delete(id);
      return etag;
    },
    recordSha256: async (key: string, written: { version: string; size: number }, sha256: string, sourceVersion?: string) => {
      const o = objects.get(key);
      recorded.push(`${key} ${written.version} ${written.size}`);
      if (o && o.etag === written.version) objects.set(key, { ...o, sha256, sourceVersion });
    },
    abortUpload: async (_key: string, id: string) => void uploads.delete(id),
    abortUnfinished: async (_key: string, keep?: string) => {
      for (const id of [...uploads.keys()]) if (id !== keep) uploads.delete(id);
    },
  };
  return {
    store: store as unknown as PartTarget,
    uploads,
    objects,
    uploadedParts,
    recorded,
    failAt: (n: number) => void (failPart = n),
  };
}

function versionOf(content: Buffer, version = 'v1'): SourceVersion {
  return { size: content.length, sha256: createHash('sha256').update(content).digest('hex'), version };
}

/** Runs a copy, returning the last progress it reported (what a heartbeat would have carried). */
async function copy(src: FileStore, dst: PartTarget, source: SourceVersion, saved?: UploadProgress): Promise<{ last: UploadProgress | undefined; notes: string[]; error?: Error }> {
  let last: UploadProgress | undefined = saved;
  const notes: string[] = [];
  try {
    await copyInParts(src, dst, 'big.bin', source, { saved, report: (p) => void (last = p), note: (m) => notes.push(m) });
    return { last, notes };
  } catch (error) {
    return { last, notes, error: error as Error };
  }
}

test('part size: 8 MiB, larger for files over 1,000 parts so a heartbeat stays small', () => {
  assert.equal(partSizeFor(100 * MIB), PART_SIZE);
  assert.equal(partSizeFor(1000 * PART_SIZE), PART_SIZE);
  assert.equal(partSizeFor(50 * 1024 * MIB), 52 * MIB);
  assert.ok(Math.ceil((50 * 1024 * MIB) / partSizeFor(50 * 1024 * MIB)) <= 1000);
});

test('a changed source or a vanished upload starts over from byte 0', async () => {
  const content = randomBytes(3 * PART_SIZE);
  const s3 = fakeS3();
  s3.failAt(2);
  const first = await copy(memorySource(content).store, s3.store, versionOf(content));
  assert.equal(first.last?.etags.length, 1);

  // The source was rewritten (new version and checksum): the old upload is aborted.
  const changed = Buffer.concat([content.subarray(0, PART_SIZE), randomBytes(2 * PART_SIZE)]);
  const src2 = memorySource(changed);
  const second = await copy(src2.store, s3.store, versionOf(changed, 'v2'), first.last);
  assert.equal(second.error, undefined);
  assert.deepEqual(src2.reads, [0, PART_SIZE, 2 * PART_SIZE], 'every part again, one ranged read each');
  assert.match(second.notes.join('\n'), /starts over/);
  assert.deepEqual(s3.objects.get('big.bin')?.body, changed);
  assert.equal(s3.uploads.size, 0);

  // The same source, but its upload is gone (expired or aborted by a lifecycle rule).
  const s3b = fakeS3();
  s3b.failAt(3);
  const a = await copy(memorySource(content).store, s3b.store, versionOf(content));
  s3b.uploads.clear();
  const src3 = memorySource(content);
  const b = await copy(src3.store, s3b.store, versionOf(content), a.last);
  assert.equal(b.error, undefined);
  assert.deepEqual(src3.reads, [0, PART_SIZE, 2 * PART_SIZE]);
  assert.deepEqual(s3b.objects.get('big.bin')?.body, content);
});

test('bytes that do not match the checksum fail the copy, abort its upload and leave nothing to resume', async () => {
  const content = randomBytes(2 * PART_SIZE + 1);
  const s3 = fakeS3();
  const claimed = { ...versionOf(content), sha256: createHash('sha256').update('something else').digest('hex') };
  const r = await copy(memorySource(content).store, s3.store, claimed);
  assert.match(r.error?.message ?? '', /changed while it was copied/);
  assert.equal(r.last, undefined);
  assert.equal(s3.uploads.size, 0);
  assert.equal(s3.objects.size, 0, 'nothing became visible');
});

test('a source without a known checksum: each part read at its version, resumed at a part, the checksum recorded after the upload', async () => {
  const content = randomBytes(3 * PART_SIZE + 777);
  const sha256 = createHash('sha256').update(content).digest('hex');
  const src = memorySource(content, '"etag-1"');
  const s3 = fakeS3();
  const source = { size: content.length, version: '"etag-1"' };
  s3.failAt(3);
  const first = await copy(src.store, s3.store, source);
  assert.match(first.error?.message ?? '', /part 3/);
  assert.equal(first.last?.source.sha256, undefined, 'no checksum in the progress: none was known');
  // Through a heartbeat the progress is JSON: a resumed attempt finds it as it was.
  const saved = JSON.parse(JSON.stringify(first.last)) as UploadProgress;
  const second = await copy(src.store, s3.store, source, saved);
  assert.equal(second.error, undefined);
  assert.deepEqual(src.reads, [], 'never read without its version');
  // One ranged read per part, each at the version; the first attempt had read part 4 ahead while
  // part 3 uploaded, and the second reads from part 3 on.
  assert.deepEqual(src.guardedReads, [0, 1, 2, 3, 2, 3].map((n) => `${n * PART_SIZE}@"etag-1"`));
  assert.deepEqual(s3.uploadedParts, [1, 2, 3, 4]);
  const o = s3.objects.get('big.bin')!;
  assert.deepEqual(o.body, content);
  assert.equal(o.sha256, sha256, 'the SHA-256 taken over both attempts, recorded after');
  assert.equal(o.sourceVersion, '"etag-1"');
  assert.deepEqual(s3.recorded, [`big.bin ${o.etag} ${content.length}`]);

  // With the head a fetch already brought, the read starts after it.
  const src2 = memorySource(content, '"etag-1"');
  const s3h = fakeS3();
  const head = content.subarray(0, 4 * MIB);
  await copyInParts(src2.store, s3h.store, 'big.bin', source, { report: () => undefined }, head);
  assert.deepEqual(src2.guardedReads, [4 * MIB, PART_SIZE, 2 * PART_SIZE, 3 * PART_SIZE].map((from) => `${from}@"etag-1"`));
  assert.deepEqual(s3h.objects.get('big.bin')?.body, content);
  assert.equal(s3h.objects.get('big.bin')?.sha256, sha256);

  // The source changed between the fetch that gave its version and the read: nothing is written.
  const s3b = fakeS3();
  const stale = await copy(memorySource(content, '"etag-2"').store, s3b.store, source);
  assert.ok(stale.error instanceof FileChangedError, String(stale.error));
  assert.equal(s3b.objects.size, 0);

  // An object overwritten between the upload and the record keeps its own metadata.
  const s3c = fakeS3();
  const store = s3c.store as PartTarget & { completeUpload: PartTarget['completeUpload'] };
  const complete = store.completeUpload.bind(store);
  store.completeUpload = async (key, id, etags) => {
    const etag = await complete(key, id, etags);
    s3c.objects.set(key, { body: Buffer.from('newer'), sha256: 'theirs', etag: '"newer"' });
    return etag;
  };
  assert.equal((await copy(memorySource(content, '"etag-1"').store, s3c.store, source)).error, undefined);
  assert.equal(s3c.objects.get('big.bin')?.sha256, 'theirs');
});

test('every part recorded but the completion failed: the retry completes without reading the source again', async () => {
  // 2.5 parts: the recorded parts reach past the end of the file (the last one is short).
  const content = randomBytes(2 * PART_SIZE + PART_SIZE / 2);
  const s3 = fakeS3();
  const store = s3.store as PartTarget;
  const complete = store.completeUpload.bind(store);
  let failed = false;
  store.completeUpload = async (key, id, etags) => {
    if (!failed) {
      failed = true;
      throw new Error('503 SlowDown');
    }
    return complete(key, id, etags);
  };
  const first = await copy(memorySource(content).store, store, versionOf(content));
  assert.match(first.error?.message ?? '', /SlowDown/);
  assert.equal(first.last?.etags.length, 3, 'every part recorded');
  const src = memorySource(content);
  const second = await copy(src.store, store, versionOf(content), JSON.parse(JSON.stringify(first.last)) as UploadProgress);
  assert.equal(second.error, undefined);
  assert.deepEqual(src.reads, [], 'nothing read: every part was there');
  assert.deepEqual(s3.objects.get('big.bin')?.body, content);
  assert.equal(s3.objects.get('big.bin')?.sha256, versionOf(content).sha256);
});

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A real dir store as the target, whose part n fails once when asked. */
function dirTarget() {
  const dir = mkdtempSync(join(tmpdir(), 'seaotter-parts-'));
  dirs.push(dir);
  const store = new DirStore('dst', dir);
  const written: number[] = [];
  let failPart: number | undefined;
  const uploadPart = store.uploadPart.bind(store);
  store.uploadPart = async (key, id, n, body) => {
    if (n === failPart) {
      failPart = undefined;
      throw new Error(`disk full writing part ${n}`);
    }
    written.push(n);
    return uploadPart(key, id, n, body);
  };
  return { store, dir, written, failAt: (n: number) => void (failPart = n) };
}

/** Either target as the resume test sees it: parts written, the finished file, uploads still open. */
interface Target {
  store: PartTarget;
  written: number[];
  failAt(n: number): void;
  file(): Buffer | undefined;
  openUploads(): number;
  /** The SHA-256 the target recorded with the file, where it records one (S3 metadata). */
  recordedSha256?(): string | undefined;
}

const targets: [string, () => Target][] = [
  ['a multipart (S3) target', () => {
    const s3 = fakeS3();
    return {
      store: s3.store,
      written: s3.uploadedParts,
      failAt: s3.failAt,
      file: () => s3.objects.get('big.bin')?.body,
      openUploads: () => s3.uploads.size,
      recordedSha256: () => s3.objects.get('big.bin')?.sha256,
    };
  }],
  ['a dir store (partial file beside the target)', () => {
    const d = dirTarget();
    return {
      store: d.store,
      written: d.written,
      failAt: d.failAt,
      file: () => (existsSync(join(d.dir, 'big.bin')) ? readFileSync(join(d.dir, 'big.bin')) : undefined),
      openUploads: () => readdirSync(d.dir).filter((n) => n !== 'big.bin').length,
    };
  }],
];

for (const [name, make] of targets) {
  test(`into ${name}: a copy that fails at part 3 resumes there, parts 1–2 are not sent again and the whole SHA-256 is verified`, async () => {
    const content = randomBytes(4 * PART_SIZE + 12_345);
    const src = memorySource(content);
    const dst = make();
    const source = versionOf(content);
    dst.failAt(3);
    const first = await copy(src.store, dst.store, source);
    assert.match(first.error?.message ?? '', /part 3/);
    assert.equal(first.last?.etags.length, 2, 'progress recorded through part 2');
    assert.deepEqual(dst.written, [1, 2]);
    assert.equal(dst.openUploads(), 1, 'the upload is kept for the retry');

    const readBefore = src.reads.length;
    const second = await copy(src.store, dst.store, source, first.last);
    assert.equal(second.error, undefined);
    assert.equal(second.last, undefined, 'progress cleared once complete');
    assert.deepEqual(dst.written, [1, 2, 3, 4, 5], 'each part sent once');
    assert.deepEqual(src.reads.slice(readBefore), [2, 3, 4].map((n) => n * PART_SIZE), 'the second attempt reads from the end of part 2');
    assert.match(second.notes.join('\n'), new RegExp(`resumes at byte ${2 * PART_SIZE} of ${content.length} \\(part 3\\)`));
    assert.deepEqual(dst.file(), content);
    if (dst.recordedSha256) assert.equal(dst.recordedSha256(), source.sha256);
    assert.equal(dst.openUploads(), 0, 'no upload left open');
  });
}

test('into a dir store: a partial file whose bytes were damaged, or that is gone, starts the copy over', async () => {
  const content = randomBytes(3 * PART_SIZE);
  const dst = dirTarget();
  dst.failAt(3);
  const first = await copy(memorySource(content).store, dst.store, versionOf(content));
  assert.equal(first.last?.etags.length, 2);
  // Part 2's bytes on disk no longer match its recorded ETag.
  const partial = join(dst.dir, readdirSync(dst.dir)[0]!);
  const { openSync, writeSync, closeSync } = await import('node:fs');
  const fd = openSync(partial, 'r+');
  writeSync(fd, Buffer.from('damaged'), 0, 7, PART_SIZE + 100);
  closeSync(fd);
  const src2 = memorySource(content);
  const second = await copy(src2.store, dst.store, versionOf(content), first.last);
  assert.equal(second.error, undefined);
  assert.deepEqual(src2.reads, [0, PART_SIZE, 2 * PART_SIZE]);
  assert.match(second.notes.join('\n'), /starts over/);
  assert.deepEqual(readFileSync(join(dst.dir, 'big.bin')), content);
  assert.deepEqual(readdirSync(dst.dir), ['big.bin']);

  // The partial file is gone (removed by hand): over again, from byte 0.
  const dst2 = dirTarget();
  dst2.failAt(2);
  const a = await copy(memorySource(content).store, dst2.store, versionOf(content));
  rmSync(join(dst2.dir, readdirSync(dst2.dir)[0]!));
  const src3 = memorySource(content);
  const b = await copy(src3.store, dst2.store, versionOf(content), a.last);
  assert.equal(b.error, undefined);
  assert.deepEqual(src3.reads, [0, PART_SIZE, 2 * PART_SIZE]);
  assert.deepEqual(readFileSync(join(dst2.dir, 'big.bin')), content);
});

test('a target slower than the source\'s idle limit: each part is read whole while the one before uploads, so no read sits paused', async () => {
  // A source whose reads end with an error when nothing is read from them for 50 ms (as an S3
  // client's socket timeout, or a server's, ends a read paused behind a slow upload).
  const content = randomBytes(3 * PART_SIZE + 5);
  const idle: string[] = [];
  const src = {
    name: 'src',
    read: async (_key: string, from = 0, end?: number) => {
      const data = content.subarray(from, end);
      let at = 0;
      let timer: NodeJS.Timeout | undefined;
      const stream: Readable = new Readable({
        read() {
          clearTimeout(timer);
          if (at >= data.length) return void this.push(null);
          timer = setTimeout(() => {
            idle.push(`read from ${from} idle at ${at}`);
            stream.destroy(new Error('socket timeout: nothing read for 50 ms'));
          }, 50);
          this.push(data.subarray(at, (at += 64 * 1024)));
        },
        destroy(err, cb) {
          clearTimeout(timer);
          cb(err);
        },
      });
      return stream;
    },
  } as unknown as FileStore;
  const s3 = fakeS3();
  const store = s3.store as PartTarget;
  const upload = store.uploadPart.bind(store);
  store.uploadPart = async (key, id, n, body) => {
    await new Promise((r) => setTimeout(r, 150));
    return upload(key, id, n, body);
  };
  const r = await copy(src, store, versionOf(content));
  assert.equal(r.error, undefined, String(r.error));
  assert.deepEqual(idle, []);
  assert.deepEqual(s3.objects.get('big.bin')?.body, content);
});

test('a source file gone or changed between parts: the upload is aborted and no progress is left to resume', async () => {
  const content = randomBytes(3 * PART_SIZE);
  for (const error of [new FileMissingError('no object big.bin in src'), new FileChangedError('object big.bin in src changed while it was copied')]) {
    const src = memorySource(content);
    const read = src.store.read.bind(src.store);
    src.store.read = async (key, from = 0, end) => {
      if (from >= PART_SIZE) throw error;
      return read(key, from, end);
    };
    const s3 = fakeS3();
    const r = await copy(src.store, s3.store, versionOf(content));
    assert.equal(r.error, error);
    assert.equal(r.last, undefined, 'nothing to resume: the next attempt looks at the source again');
    assert.equal(s3.uploads.size, 0, 'the upload is aborted, its parts not left behind');
    assert.equal(s3.objects.size, 0);
  }
});

test('a source that ignores ranges: the rest of the file in one read, parts taken from it in turn (not a read from byte 0 per part)', async () => {
  const content = randomBytes(3 * PART_SIZE + 99);
  const src = memorySource(content);
  (src.store as { ignoresRanges?: boolean }).ignoresRanges = true;
  const s3 = fakeS3();
  s3.failAt(3);
  const head = content.subarray(0, 4 * MIB);
  let last: UploadProgress | undefined;
  await assert.rejects(copyInParts(src.store, s3.store, 'big.bin', versionOf(content), { report: (p) => void (last = p) }, head), /part 3/);
  assert.deepEqual(src.reads, [4 * MIB], 'one read, after the head');
  await copyInParts(src.store, s3.store, 'big.bin', versionOf(content), { saved: JSON.parse(JSON.stringify(last)) as UploadProgress, report: () => undefined });
  assert.deepEqual(src.reads, [4 * MIB, 2 * PART_SIZE], 'the resumed copy: one read from part 3 on');
  assert.deepEqual(s3.objects.get('big.bin')?.body, content);
  assert.equal(s3.objects.get('big.bin')?.sha256, versionOf(content).sha256);
});
