/**
 * Loads processor modules (lib/processor.ts) with dynamic import, once per file version: a module
 * is re-imported when its modification time changes, so a fixed processor takes effect when a
 * halted pipeline is resumed, without restarting the worker (Node caches a module that failed to
 * load by its URL, so the URL carries the modification time). Failed loads are not cached.
 */
import { stat } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import type { Processor } from '../../lib/processor.js';

/** A processor module that cannot be used: missing, failing to load, or without a function. */
export class ProcessorLoadError extends Error {}

const loaded = new Map<string, { mtimeMs: number; processor: Promise<Processor> }>();

/** The processor exported by the module at an absolute path. */
export async function loadProcessor(file: string): Promise<Processor> {
  let mtimeMs: number;
  try {
    mtimeMs = (await stat(file)).mtimeMs;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ProcessorLoadError(`processor ${file} cannot be loaded: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  const cached = loaded.get(file);
  if (cached && cached.mtimeMs === mtimeMs) return cached.processor;
  const processor = importProcessor(file, mtimeMs);
  loaded.set(file, { mtimeMs, processor });
  processor.catch(() => {
    if (loaded.get(file)?.processor === processor) loaded.delete(file);
  });
  return processor;
}

async function importProcessor(file: string, mtimeMs: number): Promise<Processor> {
  let mod: { default?: unknown; process?: unknown };
  try {
    mod = (await import(`${pathToFileURL(file).href}?mtime=${mtimeMs}`)) as typeof mod;
  } catch (err) {
    throw new ProcessorLoadError(`processor ${file} cannot be loaded: ${(err as Error).message}`);
  }
  if (typeof mod.default === 'function') return mod.default as Processor;
  if (typeof mod.process === 'function') return mod.process as Processor;
  throw new ProcessorLoadError(`processor ${file} exports neither a default function nor a function named "process"`);
}
