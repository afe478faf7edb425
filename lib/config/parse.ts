/**
 * Turns config text into a typed config, or into every problem found, each named by its path
 * (`pipelines[0].tables[1].source: …`), so `seaotter config check` can list them all at once.
 */
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { configSchema, type SeaotterConfig } from './schema.js';
import { checkColumnRules } from '../columns.js';
import { parseTablePattern } from '../mapping.js';
import { checkEndpoints } from './endpoints.js';
import { overlappingRules } from './overlap.js';

/** One problem in a config, by path. */
export interface ConfigProblem {
  path: string;
  message: string;
}

export type ParseConfigResult = { ok: true; config: SeaotterConfig } | { ok: false; problems: ConfigProblem[] };

/** Formats a zod/JS path as `pipelines[0].tables[1].source`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out || '(top level)';
}

/** Parses YAML (JSON is YAML too) and validates it, structurally and across references. */
export function parseConfig(text: string): ParseConfigResult {
  let raw: unknown;
  try {
    raw = parseYaml(text, { prettyErrors: true });
  } catch (err) {
    const where = err instanceof YAMLParseError && err.linePos ? `line ${err.linePos[0].line}` : '(file)';
    // The parser's first line ends by pointing at an excerpt it prints below; the path says where.
    const message = (err as Error).message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
    return { ok: false, problems: [{ path: where, message: `not valid YAML or JSON: ${message}` }] };
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return { ok: false, problems: [{ path: '(top level)', message: 'expected a mapping with dataSources, stage and pipelines' }] };
  }
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const problems = result.error.issues.map((i) => ({ path: formatPath(i.path), message: describeIssue(i as never) }));
    // The references too, as far as the file's shape allows, so that one wrong value does not
    // hide them; a problem at or under a path the schema already named is left out.
    const under = (path: string, at: string) => path === at || path.startsWith(`${at}.`) || path.startsWith(`${at}[`);
    // Data sources the schema found wrong may have no type to check against.
    const unsureSources = new Set(result.error.issues.filter((i) => i.path[0] === 'dataSources' && i.path.length > 1).map((i) => String(i.path[1])));
    for (const extra of checkReferences(raw as SeaotterConfig, { tolerant: true, unsureSources })) {
      if (!problems.some((p) => under(extra.path, p.path) || under(p.path, extra.path))) problems.push(extra);
    }
    return { ok: false, problems };
  }
  const problems = checkReferences(result.data);
  return problems.length ? { ok: false, problems } : { ok: true, config: result.data };
}

function describeIssue(issue: { code: string; message: string; keys?: string[]; path: PropertyKey[]; input?: unknown }): string {
  if (issue.code === 'unrecognized_keys' && issue.keys) return `unknown key(s): ${issue.keys.join(', ')}`;
  if (issue.code === 'invalid_type' && /received undefined$/.test(issue.message)) return 'required';
  if (issue.code === 'invalid_union' && issue.path[issue.path.length - 1] === 'start') {
    return 'expected "current", { gtid: "0-1-100" } or { file: "mysql-bin.000001", pos: 4 }';
  }
  return issue.message;
}

const DATABASES = ['mysql', 'mariadb'];
const FILE_STORES = ['s3', 'dir'];

/**
 * Checks what a schema cannot: names that must exist, kinds that must match, rules that overlap.
 * `tolerant`: the config did not pass the schema; each part is checked if its shape allows, and
 * left alone otherwise (the schema's problems say what is wrong with it).
 */
export function checkReferences(config: SeaotterConfig, opts: { tolerant?: boolean; unsureSources?: ReadonlySet<string> } = {}): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const add = (path: string, message: string) => problems.push({ path, message });
  const part = (check: () => void) => {
    if (!opts.tolerant) return check();
    try {
      check();
    } catch {
      // Not of the shape this check reads.
    }
  };
  const sources = config.dataSources;
  /** Whether a data source's type can be checked (not one the schema already found wrong). */
  const sure = (name: string) => !opts.unsureSources?.has(name);
  if (opts.tolerant && (typeof sources !== 'object' || sources === null || !Array.isArray(config.pipelines))) return [];
  const seen = new Map<string, number>();
  part(() => problems.push(...checkEndpoints(config)));

  for (const [name, ds] of Object.entries(sources)) {
    part(() => {
      if (ds.type !== 's3' || !ds.accessKeyEnv === !ds.secretKeyEnv) return;
      add(`dataSources.${name}.${ds.accessKeyEnv ? 'secretKeyEnv' : 'accessKeyEnv'}`, 'give accessKeyEnv and secretKeyEnv together, or neither (then the default AWS credential chain)');
    });
  }

  part(() => {
    if (config.stage.type !== 's3') return;
    const store = sources[config.stage.source];
    if (!store) add('stage.source', `no data source named "${config.stage.source}"`);
    else if (sure(config.stage.source) && store.type !== 's3') add('stage.source', `"${config.stage.source}" is of type ${store.type}; the stage needs an s3 store`);
  });

  config.pipelines.forEach((p, i) => part(() => {
    const at = `pipelines[${i}]`;
    const first = seen.get(p.id);
    if (first !== undefined) add(`${at}.id`, `duplicate pipeline id "${p.id}" (also pipelines[${first}])`);
    else seen.set(p.id, i);

    const src = sources[p.source];
    if (!src) add(`${at}.source`, `no data source named "${p.source}"`);
    else if (sure(p.source) && !DATABASES.includes(src.type)) add(`${at}.source`, `"${p.source}" is of type ${src.type}; a source must be mysql or mariadb`);
    const dst = sources[p.target];
    if (!dst) add(`${at}.target`, `no data source named "${p.target}"`);
    else if (sure(p.target) && ![...DATABASES, 'oracle'].includes(dst.type)) add(`${at}.target`, `"${p.target}" is of type ${dst.type}; a target must be mysql, mariadb or oracle`);
    if (p.source === p.target) add(`${at}.target`, 'source and target are the same data source');
    if (p.load?.onError === 'skip' && config.stage?.type === 's3') {
      add(`${at}.load.onError`, '"skip" writes dead-letter files into a local stage; use stage { type: local } or onError: halt');
    }

    p.tables.forEach((t, j) => part(() => {
      const tat = `${at}.tables[${j}]`;
      const pattern = parseTablePattern(t.source);
      if (!pattern.ok) add(`${tat}.source`, pattern.message);
      else if (t.target !== undefined) {
        if (!/^[^.\s]+\.[^.\s]+$/.test(t.target)) add(`${tat}.target`, 'expected "schema.table"');
        const refs = [...t.target.matchAll(/\$(\d+)/g)].map((m) => Number(m[1]));
        const max = refs.length ? Math.max(...refs) : 0;
        if (max > pattern.groups) add(`${tat}.target`, `uses $${max} but the source pattern has ${pattern.groups} group(s)`);
      }
      if (t.columns?.include && t.columns.exclude) add(`${tat}.columns`, 'give include or exclude, not both');
      for (const c of checkColumnRules(t.columns)) add(`${tat}.${c.path}`, c.message);
      for (const [k, f] of (t.files ?? []).entries()) {
        for (const side of ['from', 'to'] as const) {
          const store = sources[f[side]];
          if (!store) add(`${tat}.files[${k}].${side}`, `no data source named "${f[side]}"`);
          else if (sure(f[side]) && !FILE_STORES.includes(store.type)) add(`${tat}.files[${k}].${side}`, `"${f[side]}" is of type ${store.type}; files need an s3 or dir store`);
        }
      }
    }));
    part(() => {
      for (const o of overlappingRules(p.tables.map((t) => t.source), at)) add(o.path, o.message);
    });

    if (p.twoWay) {
      const peer = config.pipelines.find((q) => q.id === p.twoWay!.peer);
      if (!peer) add(`${at}.twoWay.peer`, `no pipeline with id "${p.twoWay.peer}"`);
      else if (peer.source !== p.target || peer.target !== p.source) {
        add(`${at}.twoWay.peer`, `peer "${peer.id}" must run ${p.target} → ${p.source}`);
      }
    }
  }));
  return problems;
}

/**
 * The config with every `processor` (and file `resolver`) path passed through `resolve` (the caller makes them absolute
 * against the config file's directory, so workers load the same file whatever their cwd).
 */
export function resolveProcessorPaths(config: SeaotterConfig, resolve: (path: string) => string): SeaotterConfig {
  return {
    ...config,
    pipelines: config.pipelines.map((p) => ({
      ...p,
      ...(p.processor !== undefined ? { processor: resolve(p.processor) } : {}),
      tables: p.tables.map((t) => ({
        ...t,
        ...(t.processor !== undefined ? { processor: resolve(t.processor) } : {}),
        ...(t.files ? { files: t.files.map((f) => (f.resolver !== undefined ? { ...f, resolver: resolve(f.resolver) } : f)) } : {}),
      })),
    })),
  };
}
