/**
 * The stage in an S3 bucket (`stage: { type: s3, source, prefix }`), so a worker in another
 * datacenter reads what the source's worker wrote. Objects are the same gzip'd documents as the
 * local stage's, under `<prefix><ref>`; a PUT is atomic, so a half batch is never visible.
 */
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { ApplicationFailure } from '@temporalio/activity';
import type { S3StoreConfig } from '../../lib/config/schema.js';
import type { RowChange } from '../../lib/model.js';
import { isNotFound, s3ClientFor } from '../files/stores/s3-client.js';
import { decodeChanges, decodeJson, encodeChanges, encodeJson } from './stage-codec.js';
import type { Stage } from './stage.js';

export class S3Stage implements Stage {
  constructor(
    private readonly store: S3StoreConfig,
    private readonly prefix: string,
  ) {}

  private key(ref: string): string {
    if (ref.split('/').some((s) => s === '..' || s === '')) throw new Error(`stage reference escapes the stage: ${ref}`);
    return `${this.prefix}${ref}`;
  }

  private async put(ref: string, body: Buffer): Promise<void> {
    await s3ClientFor(this.store).send(new PutObjectCommand({ Bucket: this.store.bucket, Key: this.key(ref), Body: body, ContentLength: body.length }));
  }

  private async get(ref: string): Promise<Buffer> {
    try {
      const got = await s3ClientFor(this.store).send(new GetObjectCommand({ Bucket: this.store.bucket, Key: this.key(ref) }));
      return Buffer.from(await got.Body!.transformToByteArray());
    } catch (err) {
      if (isNotFound(err)) {
        throw ApplicationFailure.nonRetryable(`staged batch ${ref} is missing from bucket ${this.store.bucket} (${this.key(ref)})`, 'StageCorrupt');
      }
      throw err;
    }
  }

  async putChanges(ref: string, changes: RowChange[]): Promise<number> {
    const body = await encodeChanges(changes);
    await this.put(ref, body);
    return body.length;
  }

  async getChanges(ref: string): Promise<RowChange[]> {
    return decodeChanges(ref, await this.get(ref));
  }

  async putJson(ref: string, value: unknown): Promise<void> {
    await this.put(ref, await encodeJson(value));
  }

  async getJson<T>(ref: string): Promise<T> {
    return decodeJson<T>(ref, await this.get(ref));
  }

  async getJsonIfAny<T>(ref: string): Promise<T | undefined> {
    const body = await this.get(ref).catch((err: unknown) => {
      if (err instanceof ApplicationFailure && err.type === 'StageCorrupt') return undefined;
      throw err;
    });
    return body && decodeJson<T>(ref, body);
  }

  async remove(ref: string): Promise<void> {
    await s3ClientFor(this.store).send(new DeleteObjectCommand({ Bucket: this.store.bucket, Key: this.key(ref) }));
  }
}
