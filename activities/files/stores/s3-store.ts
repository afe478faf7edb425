/**
 * An S3 bucket as a file store. Writes stream through lib-storage's Upload (multipart for large
 * objects, a few parts in memory at a time) and record the SHA-256 in the object's metadata.
 */
import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
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
import { FileMissingError, PART_SIZE, SHA256_META, SOURCE_META, sha256Of, type Fetched, type FileInfo, type FileStore, type PartTarget } from './file-store.js';
import { isNotFound, s3ClientFor } from './s3-client.js';

/** What seaotter records on an object it writes: its SHA-256, and the source version it was copied from. */
function metadata(sha256: string, sourceVersion?: string): Record<string, string> {
  return { [SHA256_META]: sha256, ...(sourceVersion ? { [SOURCE_META]: sourceVersion } : {}) };
}

export class S3Store implements FileStore, PartTarget {
  private readonly bucket: string;

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

  async fetch(key: string, limit: number, unlessVersion?: string): Promise<Fetched | null | 'unchanged'> {
    let got;
    try {
      got = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, ...(unlessVersion ? { IfNoneMatch: unlessVersion } : {}) }));
    } catch (err) {
      if (isNotFound(err)) return null;
      if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 304) return 'unchanged';
      throw err;
    }
    const sha256 = got.Metadata?.[SHA256_META];
    const info: FileInfo = { size: got.ContentLength ?? 0, ...(sha256 ? { sha256 } : {}), ...(got.ETag ? { version: got.ETag } : {}) };
    const body = got.Body as Readable;
    if (info.size > limit) {
      // Too large to hold: the copy streams it in a request of its own (resumable when in parts).
      body.destroy();
      return { info };
    }
    const chunks: Buffer[] = [];
    for await (const chunk of body) chunks.push(chunk as Buffer);
    return { info, content: Buffer.concat(chunks) };
  }

  async sha256(key: string): Promise<string> {
    return sha256Of(await this.read(key));
  }

  async read(key: string, from = 0): Promise<Readable> {
    try {
      const got = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, ...(from > 0 ? { Range: `bytes=${from}-` } : {}) }));
      return got.Body as Readable;
    } catch (err) {
      if (isNotFound(err)) throw new FileMissingError(`no object ${key} in ${this.name} (bucket ${this.bucket})`);
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

  /** Starts a multipart upload of key, the SHA-256 recorded in its metadata; returns its id. */
  async createUpload(key: string, sha256: string, _partSize?: number, sourceVersion?: string): Promise<string> {
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

  /** Makes the object of parts 1…etags.length visible under key. */
  async completeUpload(key: string, uploadId: string, etags: readonly string[]): Promise<void> {
    await this.client.send(
      new CompleteMultipartUploadCommand({
        Bucket: this.bucket,
        Key: key,
        UploadId: uploadId,
        MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
      }),
    );
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
      throw new Error(`cannot reach bucket ${this.bucket} at ${endpointFor(this.config, workerDatacenter()) ?? 'the default endpoint'}: ${(err as Error).message || (err as Error).name}`);
    }
  }
}
