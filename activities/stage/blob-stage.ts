/**
 * What every stage store shares: batches and documents are gzip'd blobs (stage-codec.ts) under a
 * reference; a store only says how to put, get and remove one blob. A blob that is not there
 * fails with `StageCorrupt`.
 */
import { ApplicationFailure } from '@temporalio/activity';
import type { RowChange } from '../../lib/model.js';
import { decodeChanges, decodeJson, encodeChanges, encodeJson } from './stage-codec.js';

export abstract class BlobStage {
  protected abstract put(ref: string, body: Buffer): Promise<void>;
  /** The blob, or a non-retryable `StageCorrupt` failure naming the reference when it is missing. */
  protected abstract get(ref: string): Promise<Buffer>;
  abstract remove(ref: string): Promise<void>;

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

  /** Like getJson, but undefined when the document is not there (already cleaned up). */
  async getJsonIfAny<T>(ref: string): Promise<T | undefined> {
    const body = await this.get(ref).catch((err: unknown) => {
      if (err instanceof ApplicationFailure && err.type === 'StageCorrupt') return undefined;
      throw err;
    });
    return body && decodeJson<T>(ref, body);
  }
}
