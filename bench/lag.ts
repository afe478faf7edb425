// Lag by heartbeat: the source's `bench.heartbeat` row 1 gets the current time (µs) every 100 ms;
// a sampler reads it on each copy every 100 ms. At sample time t the newest visible value is h and
// lag(t) = t − h. That includes up to one write interval (100 ms) of granularity: a copy that
// applied everything instantly still shows 0–100 ms (about 50 ms at the median).
import type { Connection } from 'mysql2/promise';
import { sleep } from '../client/servers/ports.js';

const base = BigInt(Date.now()) * 1000n - process.hrtime.bigint() / 1000n;

/** Wall-clock microseconds, monotonic within this process (one clock for writer and samplers). */
export function nowUs(): number {
  return Number(base + process.hrtime.bigint() / 1000n);
}

export const HEARTBEAT_ID = 1;
export const MARKER_ID = 2;

/**
 * Calls `tick` once per intervalMs slot; a slow tick skips the slots it overran. With `jitter`
 * the tick falls at a random point of its slot, so samples are not phase-locked to the writer
 * (phase-locked, every sample would land at the same point of the heartbeat's 100 ms cycle).
 */
class Ticker {
  private running = false;
  private done: Promise<void> = Promise.resolve();
  private failure: unknown;

  constructor(private readonly intervalMs: number, private readonly tick: () => Promise<void>, private readonly jitter = false) {}

  start(): void {
    this.running = true;
    const t0 = Date.now();
    this.done = (async () => {
      for (let slot = 0; this.running; ) {
        try {
          await this.tick();
        } catch (err) {
          // Kept for stop(), which reports it: a tick that fails ends the ticker.
          this.failure = err;
          return;
        }
        const elapsed = Date.now() - t0;
        slot = Math.max(slot + 1, Math.ceil(elapsed / this.intervalMs));
        const offset = this.jitter ? Math.random() * this.intervalMs : 0;
        await sleep(Math.max(0, t0 + slot * this.intervalMs + offset - Date.now()));
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
    if (this.failure) throw this.failure;
  }
}

/** Writes the heartbeat on the source every intervalMs; remembers every value it wrote. */
export class HeartbeatWriter {
  readonly written: number[] = [];
  private readonly ticker: Ticker;

  constructor(private readonly source: Connection, intervalMs = 100) {
    this.ticker = new Ticker(intervalMs, async () => {
      const ts = nowUs();
      await this.source.query('UPDATE bench.heartbeat SET ts = ? WHERE id = ?', [ts, HEARTBEAT_ID]);
      this.written.push(ts);
    });
  }

  start(): void {
    this.ticker.start();
  }

  stop(): Promise<void> {
    return this.ticker.stop();
  }
}

export interface Sample {
  /** When the read was sent (µs). */
  t: number;
  /** The heartbeat value it saw (µs). */
  h: number;
}

/** Reads the heartbeat on each copy once per intervalMs (at a random point of it), all copies in the same tick. */
export class Sampler {
  readonly samples = new Map<string, Sample[]>();
  private readonly ticker: Ticker;

  constructor(copies: Array<{ name: string; conn: Connection }>, intervalMs = 100) {
    for (const c of copies) this.samples.set(c.name, []);
    this.ticker = new Ticker(intervalMs, async () => {
      await Promise.all(
        copies.map(async (c) => {
          const t = nowUs();
          const h = await readRow(c.conn, HEARTBEAT_ID);
          this.samples.get(c.name)!.push({ t, h });
        }),
      );
    }, true);
  }

  start(): void {
    this.ticker.start();
  }

  stop(): Promise<void> {
    return this.ticker.stop();
  }
}

export async function readRow(conn: Connection, id: number): Promise<number> {
  const [rows] = await conn.query('SELECT ts FROM bench.heartbeat WHERE id = ?', [id]);
  return Number((rows as { ts: string | number }[])[0]?.ts ?? 0);
}

export interface LagStats {
  samples: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
  /** p99 of the age of the oldest heartbeat written but not yet visible (no granularity term). */
  p99PendingMs: number;
}

/** Lag statistics of one copy's samples; `written` (sorted) gives the granularity-free variant. */
export function lagStats(samples: Sample[], written: number[]): LagStats {
  const lags = samples.map((s) => (s.t - s.h) / 1000).sort((a, b) => a - b);
  const pending = samples
    .map((s) => {
      const next = written[firstAbove(written, s.h)];
      return next !== undefined && next < s.t ? (s.t - next) / 1000 : 0;
    })
    .sort((a, b) => a - b);
  return {
    samples: lags.length,
    p50Ms: percentile(lags, 50),
    p99Ms: percentile(lags, 99),
    maxMs: lags.at(-1) ?? NaN,
    meanMs: lags.reduce((a, b) => a + b, 0) / (lags.length || NaN),
    p99PendingMs: percentile(pending, 99),
  };
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

function firstAbove(sorted: number[], v: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! <= v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Writes a fresh marker (row 2) on the source; returns its value. */
export async function writeMarker(source: Connection): Promise<number> {
  const token = nowUs();
  await source.query('UPDATE bench.heartbeat SET ts = ? WHERE id = ?', [token, MARKER_ID]);
  return token;
}

/** Polls a copy until row `id` is at least `value`; resolves with the µs time it was seen. */
export async function waitRow(conn: Connection, id: number, value: number, timeoutMs: number, everyMs = 100): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const t = nowUs();
    if ((await readRow(conn, id)) >= value) return t;
    if (Date.now() > deadline) throw new Error(`row ${id} of bench.heartbeat did not reach ${value} within ${Math.round(timeoutMs / 1000)} s`);
    await sleep(everyMs);
  }
}
