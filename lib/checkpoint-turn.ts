/**
 * Whose turn it is to load, decided from the pipeline's checkpoint row (read under its lock).
 * The same rule holds on every target: batch n loads only when the checkpoint says n-1 is in and
 * ends where batch n starts; a batch the checkpoint already covers (and ends where it ends) is
 * done; anything else does not chain and must halt rather than be skipped or applied twice.
 */
import { formatPosition, parsePosition, type BinlogPosition, type NumberedBatch } from './model.js';

export type Turn = { turn: 'mine' } | { turn: 'done' } | { turn: 'wait' } | { turn: 'mismatch'; message: string };

function samePlace(stored: string, p: BinlogPosition): boolean {
  if (p.file === undefined || p.pos === undefined) return true;
  const s = parsePosition(stored);
  return s.file === p.file && s.pos === p.pos;
}

function mismatch(batch: NumberedBatch, seq: number, stored: string, which: 'start' | 'end'): Turn {
  return {
    turn: 'mismatch',
    message:
      `batch ${batch.seq} does not chain with the target's checkpoint (batch ${seq} at ${stored}; this batch ${which}s at ${formatPosition(which === 'start' ? batch.from : batch.to)}); ` +
      'stop the pipeline and apply it again with --replace to restart from the checkpoint',
  };
}

/** The decision for `batch` given the checkpoint row (undefined: no row, nothing applied). */
export function decideTurn(row: { seq: string | number; position: string } | undefined, batch: NumberedBatch): Turn {
  const committed = Number(row?.seq ?? 0);
  if (committed === batch.seq - 1) {
    if (committed > 0 && !samePlace(row!.position, batch.from)) return mismatch(batch, committed, row!.position, 'start');
    return { turn: 'mine' };
  }
  if (committed === batch.seq && !samePlace(row!.position, batch.to)) return mismatch(batch, committed, row!.position, 'end');
  return committed >= batch.seq ? { turn: 'done' } : { turn: 'wait' };
}
