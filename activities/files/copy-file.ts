/**
 * Copies one file between stores, streaming: skipped when the target already has the same size
 * and SHA-256; otherwise the bytes pass through a hash on their way, and a copy whose bytes do
 * not match the hash taken beforehand (the source changed meanwhile) fails and is retried.
 * Large files go part by part and resume where a failed attempt stopped (resumable-copy.ts).
 */
import { createHash } from 'node:crypto';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import PQueue from 'p-queue';
import { copyInParts, type CopyResume } from './resumable-copy.js';
import { FileMissingError, PART_SIZE, takesParts, type FileInfo, type FileStore } from './stores/file-store.js';

export type CopyOutcome = 'copied' | 'skipped' | 'missing';

/** How one file's copy ended, and the bytes written to the target (0 unless copied). */
export interface Copied {
  outcome: CopyOutcome;
  bytes: number;
}

const skipped: Copied = { outcome: 'skipped', bytes: 0 };
const missing: Copied = { outcome: 'missing', bytes: 0 };

/** Thrown for a missing source file, with the store's own words. */
export class MissingSourceFile extends Error {}

/** Passes bytes through and fails at the end when their size or SHA-256 is not the expected one. */
function verifying(key: string, size: number, sha256: string): Transform {
  const hash = createHash('sha256');
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done: TransformCallback) {
      hash.update(chunk);
      seen += chunk.length;
      done(null, chunk);
    },
    flush(done: TransformCallback) {
      const got = hash.digest('hex');
      if (seen !== size || got !== sha256) done(new Error(`file ${key} changed while it was copied (${seen} bytes, sha256 ${got}; expected ${size}, ${sha256})`));
      else done();
    },
  });
}

/**
 * Files up to this size come with their info in one read and are hashed in memory; larger ones
 * are hashed in one streamed pass (unless the source keeps their checksum) and copied in a second.
 */
const IN_MEMORY_BYTES = 4 * 1024 * 1024;

/**
 * Larger files this process copies at once: each is streamed and holds up to two parts in memory
 * (small files, at most IN_MEMORY_BYTES each, are bounded by copyFiles' own limit).
 */
export const STREAMED_CONCURRENCY = 8;
const streamed = new PQueue({ concurrency: STREAMED_CONCURRENCY });

/** Copies key from src to dst unless dst has it already; 'missing' when src lacks it. */
export async function copyFile(src: FileStore, dst: FileStore, key: string, resume: CopyResume): Promise<Copied> {
  // The target first (near the worker): a copy seaotter made records the source version it came
  // from, and the source then answers 'unchanged' without sending the file again (a row that
  // names the same file again, e.g. on every update of it). Otherwise one request to the source
  // (often in the other datacenter) gives the size, the checksum it keeps, and a small file's bytes.
  const there = await dst.stat(key);
  const fetched = await src.fetch(key, IN_MEMORY_BYTES, there?.sourceVersion);
  if (fetched === 'unchanged') return skipped;
  if (!fetched) return missing;
  if (fetched.content) return copyFetched(dst, key, fetched.info, fetched.content, there);
  return streamed.add(() => copyStreamed(src, dst, key, fetched.info, there, resume));
}

/** True when the target already has the file: same size and SHA-256. */
async function alreadyThere(dst: FileStore, key: string, there: FileInfo | null, size: number, sha256: string): Promise<boolean> {
  return !!there && there.size === size && (there.sha256 ?? (await dst.sha256(key))) === sha256;
}

/** A small file, its bytes in hand. */
async function copyFetched(dst: FileStore, key: string, info: FileInfo, content: Buffer, there: FileInfo | null): Promise<Copied> {
  const sha256 = createHash('sha256').update(content).digest('hex');
  if (info.sha256 && info.sha256 !== sha256) throw new Error(`file ${key} changed while it was copied (sha256 ${sha256}; its metadata says ${info.sha256})`);
  if (await alreadyThere(dst, key, there, content.length, sha256)) return skipped;
  await dst.write(key, Readable.from([content]), content.length, sha256, info.version);
  return { outcome: 'copied', bytes: content.length };
}

/** A larger file: hashed first unless its checksum is known, then streamed (part by part into a store that takes parts). */
async function copyStreamed(src: FileStore, dst: FileStore, key: string, info: FileInfo, there: FileInfo | null, resume: CopyResume): Promise<Copied> {
  const saved = resume.saved;
  let sha256: string;
  try {
    if (info.sha256) sha256 = info.sha256;
    // A resumed copy of the same source version knows the checksum from its first attempt.
    else if (saved && saved.key === key && info.version !== undefined && saved.source.version === info.version && saved.source.size === info.size) sha256 = saved.source.sha256;
    else sha256 = await src.sha256(key);
  } catch (err) {
    if (err instanceof FileMissingError) return missing;
    throw err;
  }
  if (await alreadyThere(dst, key, there, info.size, sha256)) return skipped;
  let body: Readable;
  try {
    if (takesParts(dst) && info.size >= PART_SIZE) {
      await copyInParts(src, dst, key, { size: info.size, sha256, ...(info.version !== undefined ? { version: info.version } : {}) }, resume);
      return { outcome: 'copied', bytes: info.size };
    }
    body = await src.read(key);
  } catch (err) {
    if (err instanceof FileMissingError) return missing;
    throw err;
  }
  const checked = verifying(key, info.size, sha256);
  body.on('error', (err) => checked.destroy(err));
  await dst.write(key, body.pipe(checked), info.size, sha256, info.version);
  return { outcome: 'copied', bytes: info.size };
}
