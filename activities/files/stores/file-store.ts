/**
 * A file store (a data source of type s3 or dir) as copyFiles sees it: stat, stream out, stream
 * in, remove. Keys are checked by lib/file-keys.ts before they get here.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FileStoreConfig } from '../../../lib/config/schema.js';
import { DirStore } from './dir-store.js';
import { S3Store } from './s3-store.js';

/** Size, and the SHA-256 (hex) when the store keeps it without reading the content. */
export interface FileInfo {
  size: number;
  sha256?: string;
  /** What changes when the content does (an S3 ETag; a file's mtime and inode): a copy resumes only onto the same version. */
  version?: string;
  /** On a copy's target: the version of the source file it was copied from, as seaotter recorded it (S3 metadata). */
  sourceVersion?: string;
}

/** A key the source store does not have. */
export class FileMissingError extends Error {}

/** A guarded read found the file at another version than the one it was asked for (it changed since). */
export class FileChangedError extends Error {}

/** What `fetch` found: the file's info, and its content when it is at most the limit asked. */
export interface Fetched {
  info: FileInfo;
  content?: Buffer;
  /** Of a larger file, its first bytes when the store sent them (S3 asks for the first `limit` only): a copy goes on after them. */
  head?: Buffer;
}

export interface FileStore {
  /** The data source name, for messages. */
  readonly name: string;
  /** Null when the key is absent. */
  stat(key: string): Promise<FileInfo | null>;
  /**
   * The file's info and, when it is at most `limit` bytes, its content, in one request (what a
   * copy across datacenters pays once instead of a stat and a read); null when the key is absent;
   * 'unchanged' when its version is still `unlessVersion` (an S3 If-None-Match: nothing is sent).
   */
  fetch(key: string, limit: number, unlessVersion?: string): Promise<Fetched | null | 'unchanged'>;
  /** SHA-256 (hex) of the content, streamed. */
  sha256(key: string): Promise<string>;
  /** The content as a stream, from byte `from` (default 0) up to `end` (exclusive; default the end); FileMissingError when absent. */
  read(key: string, from?: number, end?: number): Promise<Readable>;
  /**
   * `read`, but only of the file at `version` (an S3 If-Match on its ETag): FileChangedError when
   * it is another one now. With it a copy reads a file once, hashing on the way, where it would
   * otherwise hash it in a pass of its own first. Stores that cannot guard a read leave it out.
   */
  readAtVersion?(key: string, version: string, from?: number, end?: number): Promise<Readable>;
  /**
   * True once the store answered a ranged read with the whole file (a proxy in front of it that
   * ignores Range): a large file's copy then reads the rest in one request, not one per part.
   */
  readonly ignoresRanges?: boolean;
  /**
   * Writes the whole stream under key so that readers see the old file or the new one, never a
   * part; records the SHA-256 where the store can, so later copies skip it without reading it,
   * and the source version it was copied from, so they need not read the source either.
   */
  write(key: string, body: Readable, size: number, sha256: string, sourceVersion?: string): Promise<void>;
  /** Removes key; absent is fine. */
  remove(key: string): Promise<void>;
  /** Throws a one-line reason when the store cannot be reached or used. */
  check(): Promise<void>;
}

/**
 * A store that takes a large file part by part, so that a copy can go on from the last part a
 * failed attempt finished (resumable-copy.ts): S3's multipart uploads, or a dir store's partial
 * file. Parts are numbered from 1; all but the last have the upload's part size.
 */
export interface PartTarget {
  /** `sha256` is recorded with the upload when known before the copy (else `recordSha256` after it, where the store can). */
  createUpload(key: string, sha256: string | undefined, partSize: number, sourceVersion?: string): Promise<string>;
  /** Stores part n; returns its ETag (an MD5 of its bytes, quoted). */
  uploadPart(key: string, uploadId: string, n: number, body: Buffer): Promise<string>;
  /** The ETags of the parts the upload holds, by part number; null when the upload is gone. */
  uploadedParts(key: string, uploadId: string): Promise<Map<number, string> | null>;
  /** Makes parts 1…n the file under key, all at once; returns the new file's version (its ETag) when the store has one. */
  completeUpload(key: string, uploadId: string, etags: readonly string[]): Promise<string | undefined>;
  /**
   * Records the SHA-256 (and the source version) on a file written without it, while it is still
   * the one written (`written.version`, from completeUpload): a file a concurrent copy wrote since
   * keeps its own. Stores that keep no checksum leave it out.
   */
  recordSha256?(key: string, written: { version: string; size: number }, sha256: string, sourceVersion?: string): Promise<void>;
  abortUpload(key: string, uploadId: string): Promise<void>;
  /** Aborts the uploads of key left by earlier attempts, except `keep`. */
  abortUnfinished(key: string, keep?: string): Promise<void>;
}

export function takesParts(store: FileStore): store is FileStore & PartTarget {
  return typeof (store as Partial<PartTarget>).createUpload === 'function';
}

/** Files from this size on are copied part by part, in parts of at least this size (S3 allows 5 MiB on). */
export const PART_SIZE = 8 * 1024 * 1024;

/** Opens the store a data source describes. */
export function openFileStore(name: string, config: FileStoreConfig): FileStore {
  return config.type === 's3' ? new S3Store(name, config) : new DirStore(name, config.path);
}

/** SHA-256 metadata key on S3 objects written by seaotter (x-amz-meta-seaotter-sha256). */
export const SHA256_META = 'seaotter-sha256';
/** Metadata key of the source version (an S3 ETag; a file's inode, mtime and size) an S3 object was copied from (x-amz-meta-seaotter-source-version). */
export const SOURCE_META = 'seaotter-source-version';

/** The SHA-256 (hex) of a stream's bytes, read to the end. */
export async function sha256Of(stream: Readable): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(stream, hash);
  return hash.digest('hex');
}
