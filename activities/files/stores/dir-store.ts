/** A local directory as a file store: a key is a path below it; writes are temp file + rename. */
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { access, mkdir, rename, rm, stat } from 'node:fs/promises';
import { constants } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { checkKey } from '../../../lib/file-keys.js';
import { FileMissingError, sha256Of, type FileInfo, type FileStore } from './file-store.js';

export class DirStore implements FileStore {
  constructor(
    readonly name: string,
    private readonly dir: string,
  ) {}

  private path(key: string): string {
    return join(this.dir, checkKey(key));
  }

  async stat(key: string): Promise<FileInfo | null> {
    try {
      const st = await stat(this.path(key));
      return st.isFile() ? { size: st.size, version: `${st.ino}:${st.mtimeMs}:${st.size}` } : null;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return null;
      throw err;
    }
  }

  async sha256(key: string): Promise<string> {
    return sha256Of(await this.read(key));
  }

  async read(key: string, from = 0): Promise<Readable> {
    const stream = createReadStream(this.path(key), { start: from });
    // Open before returning, so a missing file is reported here and not mid-copy.
    await new Promise<void>((resolve, reject) => {
      stream.once('open', () => resolve());
      stream.once('error', (err: NodeJS.ErrnoException) => {
        reject(err.code === 'ENOENT' || err.code === 'EISDIR' ? new FileMissingError(`no file ${key} in ${this.name} (${this.dir})`) : err);
      });
    });
    return stream;
  }

  async write(key: string, body: Readable, _size: number, _sha256: string): Promise<void> {
    const file = this.path(key);
    await mkdir(dirname(file), { recursive: true });
    const tmp = `${file}.seaotter-${randomBytes(4).toString('hex')}.tmp`;
    try {
      await pipeline(body, createWriteStream(tmp));
      await rename(tmp, file);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  async remove(key: string): Promise<void> {
    await rm(this.path(key), { force: true });
  }

  async check(): Promise<void> {
    try {
      if (!(await stat(this.dir)).isDirectory()) throw new Error('not a directory');
      await access(this.dir, constants.R_OK | constants.W_OK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new Error(`directory ${this.dir} ${code === 'ENOENT' ? 'does not exist' : `cannot be used: ${(err as Error).message}`}`);
    }
  }
}
