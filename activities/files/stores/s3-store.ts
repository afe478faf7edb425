/**
 * An S3 bucket as a file store. Writes stream through lib-storage's Upload (multipart for large
 * objects, a few parts in memory at a time) and record the SHA-256 in the object's metadata.
 */
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { endpointFor } from '../../../lib/config/endpoints.js';
import type { S3StoreConfig } from '../../../lib/config/schema.js';
import { workerDatacenter } from '../../datacenter.js';
import { FileChangedError, FileMissingError, PART_SIZE, SHA256_META, SOURCE_META, sha256Of, type Fetched, type FileInfo, type FileStore, type PartTarget } from './file-store.js';
import { isNotFound, s3ClientFor } from './s3-client.js';

/** What seaotter records on an object it writes: its SHA-256, and the source version it was copied from. */
function metadata(sha256: string | undefined, sourceVersion?: string): Record<string, string> {
  return { ...(sha256 ? { [SHA256_META]: sha256 } : {}), ...(sourceVersion ? { [SOURCE_META]: sourceVersion } : {}) };
}

/** The largest object S3 copies in one CopyObject (5 GiB). */
const MAX_COPY_OBJECT_BYTES = 5 * 1024 ** 3;

/** The stream's bytes from `from` up to `end` (exclusive; default its end). */
export function skipBytes(body: Readable, from: number, end = Infinity): Readable {
  let at = 0;
  const out = Readable.from(
    (async function* () {
      for await (const chunk of body) {
        const c = chunk as Buffer;
        const start = Math.max(0, from - at);
        const stop = Math.min(c.length, end - at);
        at += c.length;
        if (start < stop) yield start > 0 || stop < c.length ? c.subarray(start, stop) : c;
        if (at >= end) break;
      }
    })(),
    { objectMode: false },
  );
  out.once('close', () => body.destroy());
  return out;
}

function httpStatus(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}

export class S3Store implements FileStore, PartTarget {
  private readonly bucket: string;
  /** Set once a ranged read came back whole (file-store.ts). */
  ignoresRanges = false;

  constructor(
    readonly name: string,
    private readonly config: S3StoreConfig,
  ) {
    this.bucket = config.bucket;
  }

  private get client(): S3Client {
    return s3ClientFor(this.config);
  }

  async stat(key: string): Promise<FileInfo | null> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      const sha256 = head.Metadata?.[SHA256_META];
      const sourceVersion = head.Metadata?.[SOURCE_META];
      return { size: head.ContentLength ?? 0, ...(sha256 ? { sha256 } : {}), ...(head.ETag ? { version: head.ETag } : {}), ...(sourceVersion ? { sourceVersion } : {}) };
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  /**
   * One GET of the first `limit` bytes: all of a small file, or the head of a larger one (its
   * total size from Content-Range), which the copy then continues after instead of reading again.
   */
  async fetch(key: string, limit: number, unlessVersion?: string): Promise<Fetched | null | 'unchanged'> {
    const get = (range: boolean) =>
      this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: key, ...(range ? { Range: `bytes=0-${Math.max(1, limit) - 1}` } : {}), ...(unlessVersion ? { IfNoneMatch: unlessVersion } : {}) }),
      );
    let got;
    try {
      try {
        got = await get(true);
      } catch (err) {
        // An empty object has no byte 0: its range cannot be satisfied. Asked again whole.
        if (httpStatus(err) !== 416) throw err;
        got = await get(false);
      }
    } catch (err) {
      if (isNotFound(err)) return null;
      if (httpStatus(err) === 304) return 'unchanged';
      throw err;
    }
    const total = /\/(\d+)$/.exec(got.ContentRange ?? '')?.[1];
    if (got.$metadata.httpStatusCode === 200 && (got.ContentLength ?? 0) > limit) this.ignoresRanges = true;
    if (total === undefined && got.$metadata.httpStatusCode === 206) throw new Error(`${this.name} answered a ranged read of ${key} without its size (no Content-Range)`);
    const sha256 = got.Metadata?.[SHA256_META];
    const info: FileInfo = { size: total !== undefined ? Number(total) : (got.ContentLength ?? 0), ...(sha256 ? { sha256 } : {}), ...(got.ETag ? { version: got.ETag } : {}) };
    // At most `limit` bytes: a server that ignores the range sends the whole file, of which the
    // rest is left unread (the connection goes with it). An answer of the size asked for is read
    // to its end, so that its connection goes back to the pool: across datacenters a new one
    // costs round trips (TCP, TLS) before the next request even starts.
    const want = Math.min(limit, info.size);
    const body = got.Body as Readable;
    const chunks: Buffer[] = [];
    let have = 0;
    for await (const chunk of body) {
      chunks.push(chunk as Buffer);
      have += (chunk as Buffer).length;
      if (have >= want && (got.ContentLength === undefined || got.ContentLength > have)) break;
    }
    body.destroy();
    const bytes = Buffer.concat(chunks).subarray(0, want);
    if (bytes.length < want) throw new Error(`read of ${key} from ${this.name} ended after ${bytes.length} of ${want} bytes`);
    return info.size <= limit ? { info, content: bytes } : { info, head: bytes };
  }

  async sha256(key: string): Promise<string> {
    return sha256Of(await this.read(key));
  }

  read(key: string, from = 0, end?: number): Promise<Readable> {
    return this.get(key, from, end);
  }

  readAtVersion(key: string, version: string, from = 0, end?: number): Promise<Readable> {
    return this.get(key, from, end, version);
  }

  private async get(key: string, from: number, end: number | undefined, version?: string): Promise<Readable> {
    const range = end !== undefined ? `bytes=${from}-${end - 1}` : from > 0 ? `bytes=${from}-` : undefined;
    try {
      const got = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, ...(range ? { Range: range } : {}), ...(version ? { IfMatch: version } : {}) }));
      const body = got.Body as Readable;
      if (version && got.ETag !== undefined && got.ETag !== version) {
        // A server (or a proxy in front of it) that ignores If-Match: its answer is of another
        // version, whose bytes must not be joined to the first ones.
        body.destroy();
        throw new FileChangedError(`object ${key} in ${this.name} changed while it was copied (it is ${got.ETag}, no longer ${version})`);
      }
      if (!range) return body;
      // A server that ignores the range sends the whole file: its first `from` bytes are dropped,
      // and those from `end` on.
      if (got.$metadata.httpStatusCode === 200) {
        this.ignoresRanges = true;
        return skipBytes(body, from, end);
      }
      if (!got.ContentRange?.startsWith(`bytes ${from}-`)) {
        body.destroy();
        throw new Error(`${this.name} answered a read of ${key} from byte ${from} with ${got.ContentRange ? `the range ${got.ContentRange}` : 'no Content-Range'}`);
      }
      // Of a range with an end, a shorter answer means the object shrank since the copy looked.
      if (end !== undefined && !got.ContentRange.startsWith(`bytes ${from}-${end - 1}/`)) {
        body.destroy();
        throw new FileChangedError(`object ${key} in ${this.name} changed while it was copied (asked for bytes ${from}-${end - 1}, got ${got.ContentRange})`);
      }
      return body;
    } catch (err) {
      if (isNotFound(err)) throw new FileMissingError(`no object ${key} in ${this.name} (bucket ${this.bucket})`);
      if (version && httpStatus(err) === 412) throw new FileChangedError(`object ${key} in ${this.name} changed while it was copied (it is no longer ${version})`);
      // A range past the end: the object shrank since the copy looked.
      if (range && httpStatus(err) === 416) throw new FileChangedError(`object ${key} in ${this.name} changed while it was copied (it no longer reaches byte ${from})`);
      throw err;
    }
  }

  /** Objects from PART_SIZE on come through copy-file.ts's resumable copy, which cleans up after itself. */
  async write(key: string, body: Readable, size: number, sha256: string, sourceVersion?: string): Promise<void> {
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: key, Body: body, Metadata: metadata(sha256, sourceVersion), ...(size < PART_SIZE ? { ContentLength: size } : {}) },
      partSize: PART_SIZE,
      queueSize: 2,
    });
    await upload.done();
  }

  /**
   * Aborts multipart uploads of key left by an attempt that died (a killed worker never aborts
   * its own), so their parts do not stay in the bucket. Only this key's, before writing it again;
   * `keep` is the upload a resumed copy goes on with.
   */
  async abortUnfinished(key: string, keep?: string): Promise<void> {
    const listed = await this.client.send(new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: key }));
    for (const u of listed.Uploads ?? []) {
      if (u.Key !== key || !u.UploadId || u.UploadId === keep) continue;
      await this.abortUpload(key, u.UploadId);
    }
  }

  // Multipart primitives for copy-file.ts's resumable copy of large files.

  /** Starts a multipart upload of key, the SHA-256 (when known) recorded in its metadata; returns its id. */
  async createUpload(key: string, sha256: string | undefined, _partSize?: number, sourceVersion?: string): Promise<string> {
    const created = await this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key, Metadata: metadata(sha256, sourceVersion) }));
    if (!created.UploadId) throw new Error(`${this.name} started no multipart upload for ${key}`);
    return created.UploadId;
  }

  /** Uploads part `n` (from 1); returns its ETag. */
  async uploadPart(key: string, uploadId: string, n: number, body: Buffer): Promise<string> {
    const part = await this.client.send(new UploadPartCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, PartNumber: n, Body: body, ContentLength: body.length }));
    if (!part.ETag) throw new Error(`${this.name} returned no ETag for part ${n} of ${key}`);
    return part.ETag;
  }

  /** The ETags of the parts the upload holds, by part number; null when the upload is gone. */
  async uploadedParts(key: string, uploadId: string): Promise<Map<number, string> | null> {
    const parts = new Map<number, string>();
    let marker: string | undefined;
    try {
      for (;;) {
        const page = await this.client.send(new ListPartsCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, ...(marker ? { PartNumberMarker: marker } : {}) }));
        for (const p of page.Parts ?? []) if (p.PartNumber !== undefined && p.ETag) parts.set(p.PartNumber, p.ETag);
        if (!page.IsTruncated || !page.NextPartNumberMarker) return parts;
        marker = page.NextPartNumberMarker;
      }
    } catch (err) {
      if (isNotFound(err) || (err as { name?: string }).name === 'NoSuchUpload') return null;
      throw err;
    }
  }

  /** Makes the object of parts 1…etags.length visible under key; returns its ETag. */
  async completeUpload(key: string, uploadId: string, etags: readonly string[]): Promise<string | undefined> {
    const done = await this.client.send(
      new CompleteMultipartUploadCommand({
        Bucket: this.bucket,
        Key: key,
        UploadId: uploadId,
        MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
      }),
    );
    return done.ETag;
  }

  /**
   * Object metadata is set when an upload starts, before a copy that reads the source once knows
   * the checksum: it is recorded after, by copying the object onto itself (inside the bucket, no
   * bytes through the worker) only while it is still the one this copy wrote. Past 5 GiB, which
   * CopyObject does not take, the object keeps its source version only: later copies still skip
   * it by that, and a checksum comparison reads it.
   */
  async recordSha256(key: string, written: { version: string; size: number }, sha256: string, sourceVersion?: string): Promise<void> {
    if (written.size > MAX_COPY_OBJECT_BYTES) return;
    try {
      await this.client.send(
        new CopyObjectCommand({
          Bucket: this.bucket,
          Key: key,
          CopySource: `${this.bucket}/${key.split('/').map(encodeURIComponent).join('/')}`,
          CopySourceIfMatch: written.version,
          MetadataDirective: 'REPLACE',
          Metadata: metadata(sha256, sourceVersion),
        }),
      );
    } catch (err) {
      // Overwritten meanwhile by a newer copy, which recorded its own: nothing to do.
      if (httpStatus(err) === 412 || isNotFound(err)) return;
      throw err;
    }
  }

  async abortUpload(key: string, uploadId: string): Promise<void> {
    await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId })).catch((err) => {
      if (!isNotFound(err) && (err as { name?: string }).name !== 'NoSuchUpload') throw err;
    });
  }

  async remove(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }

  async check(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 404) throw new Error(`bucket ${this.bucket} does not exist at ${endpointFor(this.config, workerDatacenter()) ?? 'the default endpoint'}`);
      if (status === 403) throw new Error(`access to bucket ${this.bucket} is denied (check accessKeyEnv/secretKeyEnv)`);
      // The network error's code stays on it: callers tell "cannot reach" from a refusal by it
      // (a connection that timed out, the SDK's TimeoutError with no answer, is ETIMEDOUT).
      const code = (err as { code?: string }).code ?? ((err as Error).name === 'TimeoutError' && status === undefined ? 'ETIMEDOUT' : undefined);
      throw Object.assign(new Error(`cannot reach bucket ${this.bucket} at ${endpointFor(this.config, workerDatacenter()) ?? 'the default endpoint'}: ${(err as Error).message || (err as Error).name}`), code ? { code } : {});
    }
  }
}
