/**
 * `pipeline apply`'s checks of file stores and file rules: every store a rule or the stage names
 * answers (the bucket exists, the directory is writable), every file column and template column
 * is in the source table, and resolver modules are files.
 */
import { stat } from 'node:fs/promises';
import type { FileStoreConfig, SeaotterConfig, TableRuleConfig } from '../lib/config/schema.js';
import { templateColumns, toFileRule, type FileRule } from '../lib/file-keys.js';
import { openFileStore } from '../activities/files/stores/file-store.js';
import { isUnreachable, UnreachableError } from './errors.js';

/** File rules of one table rule, checked against the source table's columns. */
export async function resolveFileRules(rule: TableRuleConfig, sourceColumns: string[], table: string, at: string, problems: string[]): Promise<FileRule[] | undefined> {
  if (!rule.files?.length) return undefined;
  const out: FileRule[] = [];
  for (const [k, config] of rule.files.entries()) {
    const fat = `${at}.files[${k}]`;
    const r = toFileRule(config);
    for (const c of [...r.columns, ...(r.template ? templateColumns(r.template) : [])]) {
      if (!sourceColumns.includes(c)) problems.push(`${fat}: the source table ${table} has no column "${c}"`);
    }
    if (r.resolver) {
      const st = await stat(r.resolver).catch((err: NodeJS.ErrnoException) => err);
      if (st instanceof Error) problems.push(`${fat}.resolver: cannot read module ${r.resolver}: ${st.code === 'ENOENT' ? 'no such file' : st.message}`);
      else if (!st.isFile()) problems.push(`${fat}.resolver: ${r.resolver} is not a file`);
    }
    out.push(r);
  }
  return out;
}

/** The stores a pipeline's file rules name, by data source name. */
export function fileStoresOf(config: SeaotterConfig, rules: FileRule[]): Record<string, FileStoreConfig> {
  const stores: Record<string, FileStoreConfig> = {};
  for (const r of rules) {
    for (const name of [r.from, r.to]) {
      const ds = config.dataSources[name];
      if (ds && (ds.type === 's3' || ds.type === 'dir')) stores[name] = ds;
    }
  }
  return stores;
}

/**
 * Checks that each store answers from here; one problem per store that refuses (no bucket, access
 * denied). A store that cannot be reached at all (connection refused, unknown host) is not a
 * problem of the config: it throws UnreachableError (exit 2), as an unreachable database does.
 */
export async function checkStores(stores: Record<string, FileStoreConfig>, problems: string[]): Promise<void> {
  const unreachable: string[] = [];
  await Promise.all(
    Object.entries(stores).map(async ([name, config]) => {
      try {
        await openFileStore(name, config).check();
      } catch (err) {
        (isUnreachable(err) ? unreachable : problems).push(`dataSources.${name}: ${(err as Error).message}`);
      }
    }),
  );
  if (unreachable.length) throw new UnreachableError(unreachable.join('; '));
}
