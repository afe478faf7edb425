/**
 * A steady write load for resilience tests, and a tripwire that catches a batch applied twice:
 * `events` is insert-only on the source, so any UPDATE reaching it on the target (an upsert that
 * found its row already there) is a duplicate application, recorded by a trigger in `audit.dups`.
 */
import type { Connection } from 'mysql2/promise';

export const WORKLOAD_TABLES = ['wl.events', 'wl.counters'];

export async function createWorkloadSchema(src: Connection, dst: Connection): Promise<void> {
  for (const c of [src, dst]) {
    await c.query('CREATE DATABASE IF NOT EXISTS wl');
    await c.query('CREATE TABLE IF NOT EXISTS wl.events (id BIGINT AUTO_INCREMENT PRIMARY KEY, k INT NOT NULL, body VARCHAR(200))');
    await c.query('CREATE TABLE IF NOT EXISTS wl.counters (id INT PRIMARY KEY, n BIGINT NOT NULL)');
  }
  await dst.query('CREATE DATABASE IF NOT EXISTS audit');
  await dst.query('CREATE TABLE IF NOT EXISTS audit.dups (id BIGINT, at TIMESTAMP(6) DEFAULT CURRENT_TIMESTAMP(6))');
  await dst.query('CREATE TRIGGER IF NOT EXISTS wl.events_applied_twice BEFORE UPDATE ON wl.events FOR EACH ROW INSERT INTO audit.dups (id) VALUES (OLD.id)');
  await src.query('INSERT IGNORE INTO wl.counters VALUES (1,0),(2,0),(3,0),(4,0),(5,0)');
}

/** Rows applied twice so far (0 unless exactly-once broke). */
export async function duplicateApplications(dst: Connection): Promise<number> {
  const [rows] = await dst.query('SELECT COUNT(*) AS n FROM audit.dups');
  return Number((rows as { n: number }[])[0].n);
}

/** Writes transactions until stopped: inserts (1–5 rows) plus a counter increment per transaction. */
export class Workload {
  private running = false;
  private done: Promise<void> = Promise.resolve();
  transactions = 0;

  constructor(
    private readonly src: Connection,
    private readonly pauseMs = 5,
  ) {}

  start(): void {
    this.running = true;
    this.done = (async () => {
      while (this.running) {
        await this.one();
        if (this.pauseMs) await new Promise((r) => setTimeout(r, this.pauseMs));
      }
    })();
  }

  async one(): Promise<void> {
    const n = 1 + (this.transactions % 5);
    await this.src.query('BEGIN');
    const values = Array.from({ length: n }, (_, i) => [this.transactions, `tx ${this.transactions} row ${i}`]);
    await this.src.query('INSERT INTO wl.events (k, body) VALUES ?', [values]);
    await this.src.query('UPDATE wl.counters SET n = n + 1 WHERE id = ?', [1 + (this.transactions % 5)]);
    await this.src.query('COMMIT');
    this.transactions++;
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }
}
