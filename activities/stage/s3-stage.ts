/**
 * The stage in an S3 bucket (`stage: { type: s3, source, prefix }`), so a worker in another
 * datacenter reads what the source's worker wrote. Objects are the same gzip'd documents as the
 * local stage's, under `<prefix><ref>`; a PUT is atomic, so a half batch is never visible.
 */
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { ApplicationFailure } from '@temporalio/activity';
import type { S3StoreConfig } from '../../lib/config/schema.js';
import { isNotFound, s3ClientFor } from '../files/stores/s3-client.js';
import { BlobStage } from './blob-stage.js';
import type { Stage } from './stage.js';

export class S3Stage extends BlobStage implements Stage {
  constructor(
    private readonly store: S3StoreConfig,
    private readonly prefix: string,
  ) {
    super();
  }

  private key(ref: string): string {
    if (ref.split('/').some((s) => s === '..' || s === '')) throw new Error(`stage reference escapes the stage: ${ref}`);
    return `${this.prefix}${ref}`;
  }

  protected async put(ref: string, body: Buffer): Promise<void> {
    await s3ClientFor(this.store).send(new PutObjectCommand({ Bucket: this.store.bucket, Key: this.key(ref), Body: body, ContentLength: body.length }));
  }

  protected async get(ref: string): Promise<Buffer> {
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

  async remove(ref: string): Promise<void> {
    await s3ClientFor(this.store).send(new DeleteObjectCommand({ Bucket: this.store.bucket, Key: this.key(ref) }));
  }
}
