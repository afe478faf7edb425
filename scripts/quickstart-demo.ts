/**
 * The quickstart's demo data: the `shop.orders` table, a writer that changes it at a steady rate
 * (inserts, updates, deletes, and now and then a multi-row transaction), and the numbers the live
 * line shows.
 */
import { randomBytes } from 'node:crypto';
import type { Connection } from 'mysql2/promise';

export const TABLE = 'shop.orders';

const DDL = [
  'CREATE DATABASE IF NOT EXISTS shop',
  `CREATE TABLE IF NOT EXISTS ${TABLE} (
     id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
     customer VARCHAR(64) NOT NULL,
     amount DECIMAL(10,2) NOT NULL,
     status ENUM('new','paid','shipped','cancelled') NOT NULL DEFAULT 'new',
     created DATETIME(6) NOT NULL,
     picture VARBINARY(1024) NULL
   )`,
];

/** Creates the schema and table when missing (same definition on source and target). */
export async function createSchema(conn: Connection): Promise<void> {
  for (const sql of DDL) await conn.query(sql);
}

/** What the writer has done so far. */
export interface WriteCounts {
  inserted: number;
  updated: number;
  deleted: number;
  transactions: number;
}

const CUSTOMERS = ['ada', 'grace', 'linus', 'margaret', 'ken', 'barbara', 'dennis', 'frances', 'edsger', 'radia'];
const NEXT_STATUS: Record<string, string> = { new: 'paid', paid: 'shipped', shipped: 'shipped', cancelled: 'cancelled' };

/** Random changes to shop.orders on the source; keeps track of the ids that exist. */
export class OrderWriter {
  readonly counts: WriteCounts = { inserted: 0, updated: 0, deleted: 0, transactions: 0 };
  private ids: number[] = [];

  constructor(private readonly conn: Connection) {}

  /** Picks up the ids of earlier runs, so updates and deletes touch old rows too. */
  async load(): Promise<void> {
    const [rows] = await this.conn.query(`SELECT id FROM ${TABLE} ORDER BY id DESC LIMIT 2000`);
    this.ids = (rows as { id: string | number }[]).map((r) => Number(r.id));
  }

  /** One change: mostly inserts and updates, some deletes, and every 20th a 3-row transaction. */
  async step(): Promise<void> {
    const r = Math.random();
    if (r < 0.05) return this.transaction();
    if (r < 0.55 || this.ids.length < 10) return void (await this.insert());
    if (r < 0.9) return this.update();
    return this.remove();
  }

  private async insert(): Promise<void> {
    const customer = CUSTOMERS[Math.floor(Math.random() * CUSTOMERS.length)];
    const amount = (5 + Math.random() * 495).toFixed(2);
    // A small "image": random bytes stand in for a thumbnail stored in the row.
    const picture = Math.random() < 0.7 ? randomBytes(32 + Math.floor(Math.random() * 480)) : null;
    const [res] = await this.conn.query(
      `INSERT INTO ${TABLE} (customer, amount, status, created, picture) VALUES (?, ?, 'new', NOW(6), ?)`,
      [customer, amount, picture],
    );
    this.ids.push(Number((res as { insertId: number }).insertId));
    this.counts.inserted++;
  }

  private pick(): number {
    return this.ids[Math.floor(Math.random() * this.ids.length)];
  }

  private async update(): Promise<void> {
    const id = this.pick();
    const [rows] = await this.conn.query(`SELECT status FROM ${TABLE} WHERE id = ?`, [id]);
    const current = (rows as { status: string }[])[0]?.status ?? 'new';
    const status = Math.random() < 0.1 ? 'cancelled' : NEXT_STATUS[current];
    await this.conn.query(`UPDATE ${TABLE} SET status = ?, amount = amount + ? WHERE id = ?`, [status, (Math.random() * 10).toFixed(2), id]);
    this.counts.updated++;
  }

  private async remove(): Promise<void> {
    const at = Math.floor(Math.random() * this.ids.length);
    const [id] = this.ids.splice(at, 1);
    await this.conn.query(`DELETE FROM ${TABLE} WHERE id = ?`, [id]);
    this.counts.deleted++;
  }

  /** Three inserts and an update that commit together: they land on the target together. */
  private async transaction(): Promise<void> {
    await this.conn.beginTransaction();
    try {
      for (let i = 0; i < 3; i++) await this.insert();
      await this.update();
      await this.conn.commit();
      this.counts.transactions++;
    } catch (err) {
      await this.conn.rollback().catch(() => undefined);
      throw err;
    }
  }
}

export async function countRows(conn: Connection): Promise<number> {
  const [rows] = await conn.query(`SELECT COUNT(*) AS n FROM ${TABLE}`);
  return Number((rows as { n: string | number }[])[0].n);
}

export async function checksum(conn: Connection): Promise<string> {
  const [rows] = await conn.query(`CHECKSUM TABLE ${TABLE}`);
  return String((rows as { Checksum: string | number | null }[])[0].Checksum);
}
