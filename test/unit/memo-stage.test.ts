/**
 * MemoStage: a batch staged by this process is read back from memory once, then from the stage;
 * the memory it holds is bounded; two stages never see each other's batches.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoStage, memoStats } from '../../activities/stage/memo-stage.js';
import type { Stage } from '../../activities/stage/stage.js';
import type { RowChange } from '../../lib/model.js';

/** A stage in a Map that counts its reads, returning copies as a real stage would. */
class CountingStage implements Stage {
  files = new Map<string, string>();
  reads = 0;
  async putChanges(ref: string, changes: RowChange[]): Promise<number> {
    this.files.set(ref, JSON.stringify(changes));
    return this.files.get(ref)!.length;
  }
  async getChanges(ref: string): Promise<RowChange[]> {
    this.reads++;
    const text = this.files.get(ref);
    if (text === undefined) throw new Error(`missing ${ref}`);
    return JSON.parse(text) as RowChange[];
  }
  async putJson(ref: string, value: unknown): Promise<void> {
    this.files.set(ref, JSON.stringify(value));
  }
  async getJson<T>(ref: string): Promise<T> {
    return JSON.parse(this.files.get(ref)!) as T;
  }
  async getJsonIfAny<T>(ref: string): Promise<T | undefined> {
    const text = this.files.get(ref);
    return text === undefined ? undefined : (JSON.parse(text) as T);
  }
  async remove(ref: string): Promise<void> {
    this.files.delete(ref);
  }
}

const rows = (n: number, tag: string): RowChange[] =>
  Array.from({ length: n }, (_, i) => ({ schema: 's', table: 't', action: 'insert', after: { id: i, tag } }));

test('a staged batch is read from memory once, then from the stage, and is equal either way', async () => {
  const inner = new CountingStage();
  const stage = new MemoStage(inner, 'dir-a');
  const changes = rows(3, 'x');
  await stage.putChanges('p/1', changes);
  assert.ok(inner.files.has('p/1'), 'the stage keeps the durable copy');
  assert.equal(await stage.getChanges('p/1'), changes, 'first read: from memory');
  assert.equal(inner.reads, 0);
  assert.deepEqual(await stage.getChanges('p/1'), changes, 'second read: from the stage, equal');
  assert.equal(inner.reads, 1);
});

test('two stages with the same refs do not mix; remove drops the memory too', async () => {
  const a = new MemoStage(new CountingStage(), 'dir-a');
  const innerB = new CountingStage();
  const b = new MemoStage(innerB, 'dir-b');
  await a.putChanges('p/2', rows(1, 'a'));
  await innerB.putChanges('p/2', rows(1, 'b'));
  assert.equal((await b.getChanges('p/2'))[0].after!.tag, 'b');
  await a.putChanges('p/3', rows(1, 'a'));
  await a.remove('p/3');
  await assert.rejects(a.getChanges('p/3'), /missing p\/3/);
});

test('memory is bounded: the oldest batches leave first, a huge batch is never held', async () => {
  const inner = new CountingStage();
  const stage = new MemoStage(inner, 'dir-c');
  const start = memoStats().rows;
  for (let i = 0; i < 6; i++) await stage.putChanges(`big/${i}`, rows(100_000, String(i)));
  assert.ok(memoStats().rows <= 400_000, `${memoStats().rows} rows held`);
  await stage.getChanges('big/0');
  assert.equal(inner.reads, 1, 'the oldest was evicted and is read from the stage');
  await stage.getChanges('big/5');
  assert.equal(inner.reads, 1, 'the newest is still in memory');
  await stage.putChanges('huge', rows(400_001, 'h'));
  await stage.getChanges('huge');
  assert.equal(inner.reads, 2, 'a batch over the bound is not held');
  assert.ok(start >= 0);
});
