/**
 * Copies one file between stores, streaming: skipped when the target already has the same size
 * and SHA-256; otherwise the bytes pass through a hash on their way, and a copy whose bytes do
 * not match the hash taken beforehand, or whose guarded read finds another version (the source
 * changed meanwhile), fails and is retried. Large files go part by part and resume where a
 * failed attempt stopped (resumable-copy.ts).
 */
import { createHash } from 'node:crypto';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import PQueue from 'p-queue';
import { afterHead, copyInParts, type CopyResume } from './resumable-copy.js';
import { FileMissingError, PART_SIZE, takesParts, type Fetched, type FileInfo, type FileStore } from './stores/file-store.js';

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
 * stream in a read of their own (copyStreamed).
 */
const IN_MEMORY_BYTES = 4 * 1024 * 1024;

/**
 * Larger files this process copies at once: each is streamed and holds up to two parts in memory,
 * or, read once under PART_SIZE, its bytes (small files, at most IN_MEMORY_BYTES each, are
 * bounded by copyFiles' own limit).
 */
export const STREAMED_CONCURRENCY = 8;
const streamed = new PQueue({ concurrency: STREAMED_CONCURRENCY });

/** Copies key from src to dst unless dst has it already; 'missing' when src lacks it. */
export async function copyFile(src: FileStore, dst: FileStore, key: string, resume: CopyResume): Promise<Copied> {
  const turn = keyTurns.enter(`${dst.name}\n${key}`);
  try {
    // The target first (near the worker): a copy seaotter made records the source version it came
    // from, and the source then answers 'unchanged' without sending the file again (a row that
    // names the same file again, e.g. on every update of it). Otherwise one request to the source
    // (often in the other datacenter) gives the size, the checksum it keeps, and a small file's bytes.
    const there = await dst.stat(key);
    const fetched = await src.fetch(key, IN_MEMORY_BYTES, there?.sourceVersion);
    if (fetched === 'unchanged') {
      // Unless another copy of the key is under way: it may be writing a version in between
      // (the source went back to this one meanwhile). Then this one looks again after it.
      if (!turn.others()) return skipped;
      return await turn.run(async (writtenSince) => (writtenSince ? copyAgain(src, dst, key, resume) : skipped));
    }
    if (!fetched) return missing;
    // Something to write: in the key's turn.
    return await turn.run(async (writtenSince) => {
      if (writtenSince) return copyAgain(src, dst, key, resume);
      return write(src, dst, key, fetched, there, resume);
    });
  } finally {
    turn.leave();
  }
}

/**
 * Another copy wrote the key since this one looked: it may have written a newer version than this
 * one fetched (or an older one), so the source is asked again, against what is there now.
 */
async function copyAgain(src: FileStore, dst: FileStore, key: string, resume: CopyResume): Promise<Copied> {
  const now = await dst.stat(key);
  const again = await src.fetch(key, IN_MEMORY_BYTES, now?.sourceVersion);
  if (again === 'unchanged') return skipped;
  if (!again) return missing;
  return write(src, dst, key, again, now, resume);
}

function write(src: FileStore, dst: FileStore, key: string, got: Fetched, there: FileInfo | null, resume: CopyResume): Promise<Copied> {
  if (got.content) return copyFetched(dst, key, got.info, got.content, there);
  // (A copy waiting for its key's turn holds no streaming slot.)
  const { info, head } = got;
  return streamed.add(() => copyStreamed(src, dst, key, info, there, resume, head));
}

/**
 * Copies of one target key in this process that have something to write take turns. Two batches
 * can name the same file (every update of its row does). Two small copies at once could each
 * fetch a version, and the one that fetched the older write last: the target would keep a version
 * the source no longer has. In turns, a copy of a key that another wrote since it looked asks the
 * source again (and is told 'unchanged' when the source still has the version written). Copies
 * told 'unchanged' at once, the usual case, take no turn unless another copy of the key is under
 * way. And a large copy starting afresh aborts
 * the key's unfinished uploads (left by attempts that died), so two at once would abort each
 * other's, again and again. (Copies in other processes are not ordered with these.)
 */
class KeyTurns {
  private readonly keys = new Map<string, { tail: Promise<unknown>; copies: number; writes: number }>();

  /** A copy of the key begins (before it looks at the target); `leave` when it ends, whatever happened. */
  enter(id: string): { run<T extends Copied>(copy: (writtenSince: boolean) => Promise<T>): Promise<T>; others(): boolean; leave(): void } {
    let k = this.keys.get(id);
    if (!k) this.keys.set(id, (k = { tail: Promise.resolve(), copies: 0, writes: 0 }));
    const entry = k;
    entry.copies++;
    const seen = entry.writes;
    return {
      run: <T extends Copied>(copy: (writtenSince: boolean) => Promise<T>) => {
        const mine = entry.tail.catch(() => undefined).then(async () => {
          let out: T;
          try {
            out = await copy(entry.writes !== seen);
          } catch (err) {
            // It may have written before it failed (an upload completed, its answer lost).
            entry.writes++;
            throw err;
          }
          if (out.outcome === 'copied') entry.writes++;
          return out;
        });
        entry.tail = mine.catch(() => undefined);
        return mine;
      },
      others: () => entry.copies > 1,
      leave: () => {
        if (--entry.copies === 0 && this.keys.get(id) === entry) this.keys.delete(id);
      },
    };
  }
}
const keyTurns = new KeyTurns();

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

/**
 * A larger file. When the target holds a file of its size, the source's SHA-256 decides whether
 * to copy it: taken from the source's metadata, from a resumed attempt, or in a pass of its own.
 * Otherwise there is nothing to compare, and a source that can read at a version (S3) is read
 * once at the version fetched, hashed on the way: half the bytes across the link of hashing first.
 * Either way it streams, part by part into a store that takes parts.
 */
async function copyStreamed(src: FileStore, dst: FileStore, key: string, info: FileInfo, there: FileInfo | null, resume: CopyResume, head?: Buffer): Promise<Copied> {
  const saved = resume.saved;
  let sha256: string | undefined = info.sha256;
  const sameVersion = saved && saved.key === key && info.version !== undefined && saved.source.version === info.version && saved.source.size === info.size;
  // A resumed copy of the same source version knows the checksum from its first attempt (if it took one).
  if (sha256 === undefined && sameVersion) sha256 = saved.source.sha256;
  const comparable = !!there && there.size === info.size;
  const once = sha256 === undefined && !comparable && info.version !== undefined && !!src.readAtVersion && (info.size < PART_SIZE || takesParts(dst));
  try {
    if (once) return await copyOnce(src, dst, key, { size: info.size, version: info.version! }, resume, head);
    sha256 ??= await src.sha256(key);
  } catch (err) {
    if (err instanceof FileMissingError) return missing;
    throw err;
  }
  if (await alreadyThere(dst, key, there, info.size, sha256)) return skipped;
  let body: Readable;
  try {
    if (takesParts(dst) && info.size >= PART_SIZE) {
      await copyInParts(src, dst, key, { size: info.size, sha256, ...(info.version !== undefined ? { version: info.version } : {}) }, resume, head);
      return { outcome: 'copied', bytes: info.size };
    }
    body = head ? afterHead(head, await src.read(key, head.length)) : await src.read(key);
  } catch (err) {
    if (err instanceof FileMissingError) return missing;
    throw err;
  }
  const checked = verifying(key, info.size, sha256);
  body.on('error', (err) => checked.destroy(err));
  await dst.write(key, body.pipe(checked), info.size, sha256, info.version);
  return { outcome: 'copied', bytes: info.size };
}

/**
 * One guarded read of the source at `version` (after the head the fetch brought, if any): part by
 * part into a store that takes parts, else (under PART_SIZE) through memory, hashed on the way.
 */
async function copyOnce(src: FileStore, dst: FileStore, key: string, source: { size: number; version: string }, resume: CopyResume, head?: Buffer): Promise<Copied> {
  if (takesParts(dst) && source.size >= PART_SIZE) {
    await copyInParts(src, dst, key, source, resume, head);
    return { outcome: 'copied', bytes: source.size };
  }
  const chunks: Buffer[] = head ? [head] : [];
  for await (const chunk of await src.readAtVersion!(key, source.version, head?.length ?? 0)) chunks.push(chunk as Buffer);
  const content = Buffer.concat(chunks);
  if (content.length !== source.size) throw new Error(`file ${key} changed while it was copied (${content.length} bytes; expected ${source.size})`);
  const sha256 = createHash('sha256').update(content).digest('hex');
  await dst.write(key, Readable.from([content]), content.length, sha256, source.version);
  return { outcome: 'copied', bytes: content.length };
}
