/** Reads a config file for the CLI and the worker; problems become a UserError listing each by path. */
import { readFile, stat } from 'node:fs/promises';
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

/**
 * Processor modules that are not files where the config names them (`config check` reports them
 * by path like every other problem; `pipeline apply` refuses them too).
 */
export async function missingProcessors(config: SeaotterConfig): Promise<string[]> {
  const problems: string[] = [];
  const check = async (file: string | undefined, at: string): Promise<void> => {
    if (file === undefined) return;
    const st = await stat(file).catch((err: NodeJS.ErrnoException) => err);
    if (st instanceof Error) problems.push(`${at}.processor: cannot read module ${file}: ${st.code === 'ENOENT' ? 'no such file' : st.message}`);
    else if (!st.isFile()) problems.push(`${at}.processor: ${file} is not a file`);
  };
  for (const [i, p] of config.pipelines.entries()) {
    await check(p.processor, `pipelines[${i}]`);
    for (const [j, t] of p.tables.entries()) await check(t.processor, `pipelines[${i}].tables[${j}]`);
  }
  return problems;
}
