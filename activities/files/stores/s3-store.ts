/**
 * An S3 bucket as a file store. Writes stream through lib-storage's Upload (multipart for large
 * objects, a few parts in memory at a time) and record the SHA-256 in the object's metadata.
 */
import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { endpointFor } from '../../../lib/config/endpoints.js';
import type { S3StoreConfig } from '../../../lib/config/schema.js';
import { workerDatacenter } from '../../datacenter.js';
import { FileMissingError, SHA256_META, sha256Of, type FileInfo, type FileStore } from './file-store.js';
import { isNotFound, s3ClientFor } from './s3-client.js';

const PART_SIZE = 8 * 1024 * 1024;

export class S3Store implements FileStore {
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
      return { size: head.ContentLength ?? 0, ...(sha256 ? { sha256 } : {}) };
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  async sha256(key: string): Promise<string> {
    return sha256Of(await this.read(key));
  }

  async read(key: string): Promise<Readable> {
    try {
      const got = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return got.Body as Readable;
    } catch (err) {
      if (isNotFound(err)) throw new FileMissingError(`no object ${key} in ${this.name} (bucket ${this.bucket})`);
      throw err;
    }
  }

  async write(key: string, body: Readable, size: number, sha256: string): Promise<void> {
    if (size >= PART_SIZE) await this.abortUnfinished(key);
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: key, Body: body, Metadata: { [SHA256_META]: sha256 }, ...(size < PART_SIZE ? { ContentLength: size } : {}) },
      partSize: PART_SIZE,
      queueSize: 2,
    });
    await upload.done();
  }

  /**
   * Aborts multipart uploads of key left by an attempt that died (a killed worker never aborts
   * its own), so their parts do not stay in the bucket. Only this key's, before writing it again.
   */
  private async abortUnfinished(key: string): Promise<void> {
    const listed = await this.client.send(new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: key }));
    for (const u of listed.Uploads ?? []) {
      if (u.Key !== key || !u.UploadId) continue;
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: u.UploadId })).catch((err) => {
        if (!isNotFound(err)) throw err;
      });
    }
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
