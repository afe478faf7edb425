/**
 * The stage is the claim check of DESIGN.md: batch rows live here, workflow history only holds
 * references. Files are gzip-compressed JSON lines, written atomically (temp file + rename) so a
 * crashed writer never leaves a half batch under a real name.
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, normalize, sep } from 'node:path';
import { ApplicationFailure } from '@temporalio/activity';
import type { ResolvedStage } from '../../lib/spec.js';
import { MemoStage } from './memo-stage.js';
import { S3Stage } from './s3-stage.js';
import type { RowChange } from '../../lib/model.js';
import { BlobStage } from './blob-stage.js';

/** Where batches wait between activities. */
export interface Stage {
  putChanges(ref: string, changes: RowChange[]): Promise<number>;
  getChanges(ref: string): Promise<RowChange[]>;
  /** Any other document of a batch (e.g. its file plan), as gzip'd JSON. */
  putJson(ref: string, value: unknown): Promise<void>;
  getJson<T>(ref: string): Promise<T>;
  /** Like getJson, but undefined when the document is not there (already cleaned up). */
  getJsonIfAny<T>(ref: string): Promise<T | undefined>;
  remove(ref: string): Promise<void>;
}

/** A stage in a local directory shared by the workers of one host. */
export class LocalStage extends BlobStage implements Stage {
  constructor(private readonly dir: string) {
    super();
  }

  private path(ref: string): string {
    const rel = normalize(ref);
    if (rel.startsWith('..') || rel.startsWith(sep)) throw new Error(`stage reference escapes the stage: ${ref}`);
    return join(this.dir, rel);
  }

  protected async put(ref: string, body: Buffer): Promise<void> {
    const file = this.path(ref);
    await mkdir(dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, body);
    await rename(tmp, file);
  }

  protected async get(ref: string): Promise<Buffer> {
    try {
      return await readFile(this.path(ref));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw ApplicationFailure.nonRetryable(`staged batch ${ref} is missing from ${this.dir}`, 'StageCorrupt');
      }
      throw err;
    }
  }

  async remove(ref: string): Promise<void> {
    await rm(this.path(ref), { force: true });
  }
}

/**
 * Opens the stage a pipeline names, with this process's memory of what it staged in front
 * (memo-stage.ts): in one datacenter, the next activity of a batch usually runs here.
 */
export function openStage(config: ResolvedStage): Stage {
  if (config.type === 'local') return new MemoStage(new LocalStage(config.dir), `dir:${config.dir}`);
  const where = `s3:${config.store.endpoint ?? ''}/${config.store.bucket}/${config.prefix}`;
  return new MemoStage(new S3Stage(config.store, config.prefix), where);
}
