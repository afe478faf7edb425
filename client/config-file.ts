/** Reads a config file for the CLI and the worker; problems become a UserError listing each by path. */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parseConfig, resolveProcessorPaths } from '../lib/config/parse.js';
import type { SeaotterConfig } from '../lib/config/schema.js';
import { UserError } from './errors.js';

export async function readConfigFile(path: string): Promise<SeaotterConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UserError(`cannot read config ${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (err as Error).message}`);
  }
  const result = parseConfig(text);
  if (!result.ok) {
    const lines = result.problems.map((p) => `  ${p.path}: ${p.message}`);
    throw new UserError(`${path} has ${result.problems.length} problem(s):\n${lines.join('\n')}`);
  }
  // Processor modules are named relative to the config file.
  return resolveProcessorPaths(result.config, (p) => resolve(dirname(path), p));
}
