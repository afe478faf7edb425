/**
 * A local directory as a file store: a key is a path below it; writes are temp file + rename.
 * Large files come part by part into a partial file beside the target (`<name>.seaotter-upload-
 * <id>`), written at each part's offset, so a copy that dies goes on from its last whole part;
 * the partial file becomes the file by a rename once every part is there.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { access, mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { constants } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { checkKey } from '../../../lib/file-keys.js';
import { FileMissingError, sha256Of, type Fetched, type FileInfo, type FileStore, type PartTarget } from './file-store.js';

const UPLOAD_MARK = '.seaotter-upload-';

export class DirStore implements FileStore, PartTarget {
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

  async fetch(key: string, limit: number, unlessVersion?: string): Promise<Fetched | null | 'unchanged'> {
    const info = await this.stat(key);
    if (info && unlessVersion !== undefined && info.version === unlessVersion) return 'unchanged';
    if (!info || info.size > limit) return info && { info };
    let content: Buffer;
    try {
      content = await readFile(this.path(key));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    // Rewritten between the stat and the read: the content read is the file.
    return { info: content.length === info.size ? info : { size: content.length }, content };
  }

  async sha256(key: string): Promise<string> {
    return sha256Of(await this.read(key));
  }

  async read(key: string, from = 0, end?: number): Promise<Readable> {
    // createReadStream's `end` is inclusive.
    const stream = createReadStream(this.path(key), { start: from, ...(end !== undefined ? { end: end - 1 } : {}) });
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

  // Part by part (see the top of this file). An upload id carries its part size: `<hex>-<bytes>`.

  private uploadPath(key: string, uploadId: string): string {
    if (!/^[0-9a-f]+-\d+$/.test(uploadId)) throw new Error(`not an upload id of ${this.name}: ${uploadId}`);
    return `${this.path(key)}${UPLOAD_MARK}${uploadId}`;
  }

  async createUpload(key: string, _sha256: string | undefined, partSize: number): Promise<string> {
    const id = `${randomBytes(6).toString('hex')}-${partSize}`;
    const file = this.uploadPath(key, id);
    await mkdir(dirname(file), { recursive: true });
    await (await open(file, 'w')).close();
    return id;
  }

  async uploadPart(key: string, uploadId: string, n: number, body: Buffer): Promise<string> {
    const partSize = Number(uploadId.split('-')[1]);
    const fh = await open(this.uploadPath(key, uploadId), 'r+');
    try {
      await fh.write(body, 0, body.length, (n - 1) * partSize);
      // On disk before the part counts as done: a resumed copy trusts the parts its progress names.
      await fh.datasync();
    } finally {
      await fh.close();
    }
    return etagOf(body);
  }

  async uploadedParts(key: string, uploadId: string): Promise<Map<number, string> | null> {
    const partSize = Number(uploadId.split('-')[1]);
    let size: number;
    try {
      size = (await stat(this.uploadPath(key, uploadId))).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    // Whole parts only; each one's ETag from the bytes on disk, as S3 would report them.
    const parts = new Map<number, string>();
    const fh = await open(this.uploadPath(key, uploadId), 'r');
    try {
      const buf = Buffer.alloc(partSize);
      for (let n = 1; n * partSize <= size; n++) {
        const { bytesRead } = await fh.read(buf, 0, partSize, (n - 1) * partSize);
        parts.set(n, etagOf(buf.subarray(0, bytesRead)));
      }
    } finally {
      await fh.close();
    }
    return parts;
  }

  async completeUpload(key: string, uploadId: string, etags: readonly string[]): Promise<string | undefined> {
    const file = this.uploadPath(key, uploadId);
    const partSize = Number(uploadId.split('-')[1]);
    const fh = await open(file, 'r+');
    try {
      // The file ends with the last part (a longer one left by an attempt at another size would not).
      const size = (await fh.stat()).size;
      const last = size - (etags.length - 1) * partSize;
      if (last <= 0 || last > partSize) throw new Error(`${file} holds ${size} bytes, not ${etags.length} parts of ${partSize}`);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(file, this.path(key));
    return undefined;
  }

  async abortUpload(key: string, uploadId: string): Promise<void> {
    await rm(this.uploadPath(key, uploadId), { force: true });
  }

  async abortUnfinished(key: string, keep?: string): Promise<void> {
    const file = this.path(key);
    const prefix = `${basename(file)}${UPLOAD_MARK}`;
    let names: string[];
    try {
      names = await readdir(dirname(file));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    for (const name of names) if (name.startsWith(prefix) && name !== `${prefix}${keep}`) await rm(join(dirname(file), name), { force: true });
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

/** A part's ETag as S3 gives it: the MD5 of its bytes, quoted. */
function etagOf(body: Buffer): string {
  return `"${createHash('md5').update(body).digest('hex')}"`;
}
