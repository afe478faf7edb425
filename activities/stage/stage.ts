/**
 * The stage is the claim check of DESIGN.md: batch rows live here, workflow history only holds
 * references. Files are gzip-compressed JSON lines, written atomically (temp file + rename) so a
 * crashed writer never leaves a half batch under a real name.
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, normalize, sep } from 'node:path';
import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import { ApplicationFailure } from '@temporalio/activity';
import type { StageConfig } from '../../lib/config/schema.js';
import type { RowChange } from '../../lib/model.js';
import { parseChanges, stringifyChanges } from '../../lib/values.js';

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

/** Where batches wait between activities. */
export interface Stage {
  putChanges(ref: string, changes: RowChange[]): Promise<number>;
  getChanges(ref: string): Promise<RowChange[]>;
  remove(ref: string): Promise<void>;
}

/** A stage in a local directory shared by the workers of one host. */
export class LocalStage implements Stage {
  constructor(private readonly dir: string) {}

  private path(ref: string): string {
    const rel = normalize(ref);
    if (rel.startsWith('..') || rel.startsWith(sep)) throw new Error(`stage reference escapes the stage: ${ref}`);
    return join(this.dir, rel);
  }

  async putChanges(ref: string, changes: RowChange[]): Promise<number> {
    const file = this.path(ref);
    await mkdir(dirname(file), { recursive: true });
    const body = await gzipAsync(Buffer.from(stringifyChanges(changes)), { level: 1 });
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, body);
    await rename(tmp, file);
    return body.length;
  }

  async getChanges(ref: string): Promise<RowChange[]> {
    let body: Buffer;
    try {
      body = await readFile(this.path(ref));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw ApplicationFailure.nonRetryable(`staged batch ${ref} is missing from ${this.dir}`, 'StageCorrupt');
      }
      throw err;
    }
    try {
      return parseChanges((await gunzipAsync(body)).toString('utf8'));
    } catch (err) {
      throw ApplicationFailure.nonRetryable(`staged batch ${ref} cannot be read: ${(err as Error).message}`, 'StageCorrupt');
    }
  }

  async remove(ref: string): Promise<void> {
    await rm(this.path(ref), { force: true });
  }
}

/** Opens the stage a pipeline names. */
export function openStage(config: StageConfig): Stage {
  if (config.type === 'local') return new LocalStage(config.dir);
  throw new Error('an s3 stage is not supported by this build yet; use { type: local, dir: … }');
}
