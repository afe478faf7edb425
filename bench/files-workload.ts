// The cross-datacenter bench's files phase: rows that name pictures. The writer puts each picture
// (random bytes) into the hz picture bucket, then inserts the row that names it; seaotter copies
// the picture to the us bucket before the row loads. A poller on seaotter's target times each
// row's arrival (the row carries its source insert time), and the check afterwards reads every
// picture back from both buckets and compares SHA-256s with the row's.
import { createHash, randomBytes } from 'node:crypto';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Connection } from 'mysql2/promise';
import { sleep } from '../client/servers/ports.js';
import { nowUs, percentile } from './lag.js';

export const IMAGES_DDL =
  'CREATE TABLE bench.images (id INT NOT NULL PRIMARY KEY, path VARCHAR(200) NOT NULL, bytes INT NOT NULL, sha256 CHAR(64) NOT NULL, ts BIGINT NOT NULL)';

/** The picture buckets: one per datacenter, on the bench's S3 server. */
export const PICS_BUCKETS = { hz: 'pics-hz', us: 'pics-us' } as const;

export interface FilesLoadOptions {
  /** Pictures (and rows) per second. */
  rate: number;
  seconds: number;
  /** Picture sizes are uniform in [minKiB, maxKiB]. */
  minKiB: number;
  maxKiB: number;
}

export interface FilesLoadResult {
  pictures: number;
  bytes: number;
  seconds: number;
}

/** Writes pictures and their rows at `rate`/s; at most 16 under way at once (a slow put skips slots). */
export async function writePictures(s3: S3Client, writers: Connection[], o: FilesLoadOptions): Promise<FilesLoadResult> {
  const interval = 1000 / o.rate;
  const t0 = Date.now();
  let bytes = 0;
  let pictures = 0;
  let nextId = 1;
  const idle = [...writers];
  const running = new Set<Promise<void>>();
  const one = async (conn: Connection) => {
    const id = nextId++;
    const size = Math.round((o.minKiB + Math.random() * (o.maxKiB - o.minKiB)) * 1024);
    const body = randomBytes(size);
    const key = `pics/${id % 100}/${id}.jpg`;
    await s3.send(new PutObjectCommand({ Bucket: PICS_BUCKETS.hz, Key: key, Body: body, ContentLength: size }));
    const sha256 = createHash('sha256').update(body).digest('hex');
    await conn.query('INSERT INTO bench.images (id, path, bytes, sha256, ts) VALUES (?, ?, ?, ?, ?)', [id, key, size, sha256, nowUs()]);
    bytes += size;
    pictures++;
  };
  for (let slot = 0; Date.now() - t0 < o.seconds * 1000; slot++) {
    const conn = idle.pop();
    if (conn) {
      const p: Promise<void> = one(conn).finally(() => {
        running.delete(p);
        idle.push(conn);
      });
      running.add(p);
    }
    await sleep(Math.max(0, t0 + (slot + 1) * interval - Date.now()));
  }
  await Promise.all(running);
  return { pictures, bytes, seconds: (Date.now() - t0) / 1000 };
}

export interface ArrivalStats {
  rows: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/**
 * Polls seaotter's target for picture rows every `everyMs` and records when each first shows
 * (so a lag includes up to `everyMs` of polling granularity, half of it on average).
 */
export class ArrivalPoller {
  private readonly lags = new Map<number, number>();
  private running = false;
  private done: Promise<void> = Promise.resolve();
  private failure: unknown;

  constructor(private readonly target: Connection, private readonly everyMs = 20) {}

  start(): void {
    this.running = true;
    this.done = (async () => {
      // Rows commit out of id order (several writers), so every id above the lowest unseen one is read again.
      let lowestUnseen = 1;
      while (this.running) {
        try {
          const t = nowUs();
          const [rows] = await this.target.query('SELECT id, ts FROM bench.images WHERE id >= ? ORDER BY id', [lowestUnseen]);
          for (const r of rows as { id: number; ts: string | number }[]) if (!this.lags.has(r.id)) this.lags.set(r.id, (t - Number(r.ts)) / 1000);
          while (this.lags.has(lowestUnseen)) lowestUnseen++;
        } catch (err) {
          this.failure = err;
          return;
        }
        await sleep(this.everyMs);
      }
    })();
  }

  async stop(): Promise<ArrivalStats> {
    this.running = false;
    await this.done;
    if (this.failure) throw this.failure;
    const v = [...this.lags.values()].sort((a, b) => a - b);
    return { rows: v.length, p50Ms: percentile(v, 50), p99Ms: percentile(v, 99), maxMs: v.at(-1) ?? NaN };
  }
}

export interface PictureCheck {
  rows: number;
  /** Pictures whose bytes on the us bucket match the row's SHA-256 and the hz bucket's. */
  equal: number;
  /** Keys that are missing or differ (at most 10). */
  bad: string[];
}

async function sha256Of(s3: S3Client, bucket: string, key: string): Promise<string | undefined> {
  try {
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return createHash('sha256').update(await got.Body!.transformToByteArray()).digest('hex');
  } catch {
    return undefined;
  }
}

/** Reads every picture the target's rows name from both buckets and compares it with the row's SHA-256. */
export async function checkPictures(s3: S3Client, target: Connection): Promise<PictureCheck> {
  const [rows] = await target.query('SELECT path, sha256 FROM bench.images ORDER BY id');
  const list = rows as { path: string; sha256: string }[];
  let equal = 0;
  const bad: string[] = [];
  for (let i = 0; i < list.length; i += 16) {
    await Promise.all(list.slice(i, i + 16).map(async (r) => {
      const [us, hz] = await Promise.all([sha256Of(s3, PICS_BUCKETS.us, r.path), sha256Of(s3, PICS_BUCKETS.hz, r.path)]);
      if (us === r.sha256 && hz === r.sha256) equal++;
      else if (bad.length < 10) bad.push(`${r.path} (${us === undefined ? 'missing in us' : us === r.sha256 ? 'hz differs' : 'different in us'})`);
    }));
  }
  return { rows: list.length, equal, bad };
}
