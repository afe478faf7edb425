/**
 * Large files go into an S3 or dir store part by part, and a copy that dies (worker killed, link
 * cut) resumes at the last part its heartbeat recorded, not at byte 0. The recorded progress names
 * the upload (S3 multipart, or a dir store's partial file), the ETags of its parts and the SHA-256
 * state after their bytes (hash-wasm saves and loads that state), so the whole file's SHA-256 is
 * still verified at the end without reading the bytes already sent again. Progress is trusted
 * only for the same source version (size, SHA-256, ETag or mtime) and while the upload still holds
 * exactly those parts; otherwise the copy starts over.
 *
 * A source whose SHA-256 is not known beforehand is read at its version (`readAtVersion`, an S3
 * If-Match), so every part comes from the same file; its SHA-256 is taken on the way and recorded
 * on the target after the upload completes, where the target keeps checksums.
 */
import { Readable } from 'node:stream';
import { createSHA256 } from 'hash-wasm';
import { FileChangedError, FileMissingError, PART_SIZE, type FileStore, type PartTarget } from './stores/file-store.js';

/** The source file a copy is of: a resumed copy must find the same. */
export interface SourceVersion {
  size: number;
  /** Unknown when the source keeps none: then `version` is known and every read is guarded by it. */
  sha256?: string;
  version?: string;
}

/** A multipart copy under way, as the copy's heartbeat carries it. */
export interface UploadProgress {
  key: string;
  uploadId: string;
  partSize: number;
  /** ETags of parts 1…n, all uploaded. */
  etags: string[];
  /** SHA-256 state after the bytes of those parts (hash-wasm `save()`, base64). */
  hashState: string;
  source: SourceVersion;
}

/** A copy's part-by-part progress: what an earlier attempt recorded, where to record it, where to say what happened. */
export interface CopyResume {
  saved?: UploadProgress;
  /** Gets the progress after every part in order, and undefined once the copy is complete or abandoned. */
  report(progress: UploadProgress | undefined): void;
  note?(message: string): void;
}

/** Parts per file at most: larger files get larger parts (S3 allows 10,000; fewer keep heartbeats small). */
const MAX_PARTS = 1000;
const MIB = 1024 * 1024;
export function partSizeFor(size: number): number {
  return Math.max(PART_SIZE, Math.ceil(size / MAX_PARTS / MIB) * MIB);
}

/** `head`, then the stream of the bytes after it; destroying it destroys that stream. */
export function afterHead(head: Buffer, rest: Readable): Readable {
  const out = Readable.from(
    (async function* () {
      yield head;
      yield* rest;
    })(),
    { objectMode: false },
  );
  out.once('close', () => rest.destroy());
  return out;
}

/** One part's bytes on the way in; `stop` abandons the read (the copy failed or was cancelled). */
interface PartRead {
  done: Promise<Buffer>;
  stop(): void;
}

/** Reads a whole part: `have` (bytes already there), then what `open` streams, if anything. */
function partRead(open: (() => Promise<Readable>) | undefined, have?: Buffer): PartRead {
  let stream: Readable | undefined;
  let stopped = false;
  const done = (async () => {
    if (!open) return have!;
    const s = await open();
    stream = s;
    if (stopped) s.destroy();
    const chunks: Buffer[] = have ? [have] : [];
    for await (const c of s) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  })();
  return {
    done,
    stop: () => {
      stopped = true;
      stream?.destroy();
    },
  };
}

/** One read of the rest of a file, handed out `len` bytes at a time (calls one after another); shorter at its end. */
function sequentialReads(open: () => Promise<Readable>): { take(len: number): Promise<Buffer>; stop(): void } {
  let stream: Readable | undefined;
  let chunks: AsyncIterator<Buffer> | undefined;
  let left = Buffer.alloc(0);
  let stopped = false;
  return {
    async take(len) {
      if (!chunks) {
        stream = await open();
        if (stopped) stream.destroy();
        chunks = (stream as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
      }
      const got: Buffer[] = [left];
      let have = left.length;
      while (have < len) {
        const r = await chunks.next();
        if (r.done) break;
        got.push(r.value);
        have += r.value.length;
      }
      const all = Buffer.concat(got);
      left = all.subarray(Math.min(len, all.length));
      return all.subarray(0, Math.min(len, all.length));
    },
    stop() {
      stopped = true;
      stream?.destroy();
    },
  };
}

function sameSource(a: SourceVersion, b: SourceVersion): boolean {
  return a.size === b.size && a.sha256 === b.sha256 && a.version === b.version;
}

/** True when `saved` can go on: same key and source, and the upload holds exactly its parts. */
async function resumable(dst: PartTarget, key: string, source: SourceVersion, saved: UploadProgress | undefined): Promise<boolean> {
  if (!saved || saved.key !== key || !sameSource(saved.source, source)) return false;
  const parts = await dst.uploadedParts(key, saved.uploadId);
  return parts !== null && saved.etags.every((etag, i) => parts.get(i + 1) === etag);
}

/**
 * Copies key from src into dst in parts, going on from `resume.saved` when it still applies;
 * returns the SHA-256. `head`: the file's first bytes, already read (by the fetch that found it).
 */
export async function copyInParts(src: FileStore, dst: PartTarget, key: string, source: SourceVersion, resume: CopyResume, head?: Buffer): Promise<string> {
  const { saved, report } = resume;
  const guarded = source.sha256 === undefined;
  if (guarded && (source.version === undefined || !src.readAtVersion)) throw new Error(`copy of ${key}: its SHA-256 is not known and ${src.name} cannot read it at a version`);
  const hasher = await createSHA256();
  let p: UploadProgress;
  if (saved && (await resumable(dst, key, source, saved))) {
    p = saved;
    hasher.load(Buffer.from(p.hashState, 'base64'));
    await dst.abortUnfinished(key, p.uploadId);
    resume.note?.(`copy of ${key} resumes at byte ${p.etags.length * p.partSize} of ${source.size} (part ${p.etags.length + 1})`);
  } else {
    if (saved?.key === key) resume.note?.(`copy of ${key} starts over: the source or its upload changed since the last attempt`);
    hasher.init();
    await dst.abortUnfinished(key);
    const partSize = partSizeFor(source.size);
    p = { key, uploadId: await dst.createUpload(key, source.sha256, partSize, source.version), partSize, etags: [], hashState: Buffer.from(hasher.save()).toString('base64'), source };
  }
  report(p);
  // Each part is its own ranged read (at the version, when guarded), fetched while the one before
  // uploads (two parts in memory): no read sits paused behind a slow upload, where an idle limit
  // (the S3 client's, or the source server's) would end it, and a source across a link streams
  // while the target writes. With every part recorded (the completion failed, or the worker died
  // during it) nothing is read.
  const parts = Math.ceil(source.size / p.partSize);
  const open = (from: number, end?: number) => (guarded ? src.readAtVersion!(key, source.version!, from, end) : src.read(key, from, end));
  let n = p.etags.length;
  // The first bytes a fetch already brought are not read again.
  const headOf = (i: number, end: number) => (i === 0 && head?.length ? head.subarray(0, end) : undefined);
  // From a store that answers ranged reads with the whole file (a proxy that ignores Range), a
  // read per part would send the file from byte 0 each time: the rest comes in one read instead,
  // parts taken from it in turn.
  const inTurn = src.ignoresRanges && n < parts ? sequentialReads(() => open(headOf(n, source.size)?.length ?? n * p.partSize)) : undefined;
  const readPart = (i: number): PartRead => {
    const from = i * p.partSize;
    const end = Math.min(source.size, from + p.partSize);
    const have = headOf(i, end);
    const start = have?.length ?? from;
    if (start >= end) return partRead(undefined, have);
    if (inTurn) return { done: inTurn.take(end - start).then((b) => (have ? Buffer.concat([have, b]) : b)), stop: inTurn.stop };
    return partRead(() => open(start, end), have);
  };
  let bytes = Math.min(p.etags.length * p.partSize, source.size);
  let next = n < parts ? readPart(n) : undefined;
  try {
    while (next) {
      let part: Buffer;
      try {
        part = await next.done;
      } catch (err) {
        // Gone or changed at the source since the copy looked: the next attempt looks again and
        // starts over, so this upload's parts are dropped now rather than left behind.
        if (err instanceof FileMissingError || err instanceof FileChangedError) {
          await dst.abortUpload(key, p.uploadId).catch(() => undefined);
          report(undefined);
        }
        throw err;
      }
      const expected = Math.min(source.size, (n + 1) * p.partSize) - n * p.partSize;
      if (part.length !== expected) {
        bytes += part.length;
        break;
      }
      n++;
      next = n < parts ? readPart(n) : undefined;
      next?.done.catch(() => undefined); // awaited in order above; this only keeps an early failure from going unhandled
      hasher.update(part);
      bytes += part.length;
      const state = Buffer.from(hasher.save()).toString('base64');
      const etag = await dst.uploadPart(key, p.uploadId, n, part);
      p = { ...p, etags: [...p.etags, etag], hashState: state };
      report(p);
    }
  } finally {
    if (next) {
      next.stop();
      await next.done.catch(() => undefined);
    }
  }
  const got = hasher.digest('hex');
  if (bytes !== source.size || (!guarded && got !== source.sha256)) {
    // Not resumable: the next attempt starts over from a fresh look at the source.
    await dst.abortUpload(key, p.uploadId);
    report(undefined);
    throw new Error(`file ${key} changed while it was copied (${bytes} bytes, sha256 ${got}; expected ${source.size}, ${source.sha256 ?? 'version ' + source.version})`);
  }
  const written = await dst.completeUpload(key, p.uploadId, p.etags);
  report(undefined);
  // The copy is complete either way: a checksum not recorded only makes a later comparison read the file.
  if (guarded && written && dst.recordSha256) {
    await dst.recordSha256(key, { version: written, size: bytes }, got, source.version).catch((err: Error) => resume.note?.(`copy of ${key} is complete, but its SHA-256 was not recorded: ${err.message}`));
  }
  return got;
}
