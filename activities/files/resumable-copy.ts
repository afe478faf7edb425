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
import { PART_SIZE, type FileStore, type PartTarget } from './stores/file-store.js';

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
/** Parts uploading at once per file, while the next one is read and hashed (so two in memory). */
const PARTS_IN_FLIGHT = 1;

export function partSizeFor(size: number): number {
  return Math.max(PART_SIZE, Math.ceil(size / MAX_PARTS / MIB) * MIB);
}

/** The stream's bytes in buffers of exactly `size` (the last one may be shorter). */
export async function* inParts(stream: Readable, size: number): AsyncGenerator<Buffer> {
  let chunks: Buffer[] = [];
  let have = 0;
  for await (const c of stream) {
    let chunk = c as Buffer;
    while (have + chunk.length >= size) {
      const take = size - have;
      chunks.push(chunk.subarray(0, take));
      yield Buffer.concat(chunks);
      chunks = [];
      have = 0;
      chunk = chunk.subarray(take);
    }
    if (chunk.length > 0) {
      chunks.push(chunk);
      have += chunk.length;
    }
  }
  if (have > 0) yield Buffer.concat(chunks);
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
  // Every part recorded (the completion failed, or the worker died during it): nothing to read.
  let bytes = Math.min(p.etags.length * p.partSize, source.size);
  const open = (from: number) => (guarded ? src.readAtVersion!(key, source.version!, from) : src.read(key, from));
  const body = bytes >= source.size ? Readable.from([]) : bytes === 0 && head?.length ? afterHead(head, await open(head.length)) : await open(bytes);
  const uploading: { state: string; etag: Promise<string> }[] = [];
  // Parts finish in any order; progress moves over them in order, each with the hash state after it.
  const settleOldest = async () => {
    const part = uploading.shift()!;
    const etag = await part.etag;
    p = { ...p, etags: [...p.etags, etag], hashState: part.state };
    report(p);
  };
  try {
    let n = p.etags.length;
    for await (const part of inParts(body, p.partSize)) {
      hasher.update(part);
      bytes += part.length;
      const etag = dst.uploadPart(key, p.uploadId, ++n, part);
      etag.catch(() => undefined); // awaited in order below; this only keeps an early failure from going unhandled
      uploading.push({ state: Buffer.from(hasher.save()).toString('base64'), etag });
      if (uploading.length >= PARTS_IN_FLIGHT) await settleOldest();
    }
    while (uploading.length > 0) await settleOldest();
  } finally {
    body.destroy();
    await Promise.allSettled(uploading.map((u) => u.etag));
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
