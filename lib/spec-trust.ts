/**
 * What a worker checks before it acts on a pipeline spec from a workflow: the spec travels in
 * workflow history, and anyone who may start workflows on the namespace could write one that
 * points a worker at a host of their choosing, with the variable name of a secret to log in with,
 * or at a module on the worker's disk to run. So a worker connects only where its own config says:
 * the pipeline must be one its config defines, between the same data sources, each with the same
 * settings, through the same stage, running only processor and resolver modules the pipeline
 * names there.
 * With SEAOTTER_CODEC_KEY, `pipeline apply` also signs the whole spec (its table mappings too),
 * and workers with the key run only specs signed with it (activities/worker-config.ts).
 */
import type { DataSourceConfig, PipelineConfig, SeaotterConfig } from './config/schema.js';
import { resolveStage, type PipelineSpec, type ResolvedStage } from './spec.js';

/** JSON with object keys sorted, so equal settings compare equal whatever their key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

/** The settings that differ between two objects, as `key: A in the pipeline, B here`. */
function differences(inSpec: Record<string, unknown>, here: Record<string, unknown>): string[] {
  const keys = [...new Set([...Object.keys(inSpec), ...Object.keys(here)])].sort();
  const show = (v: unknown) => (v === undefined ? 'not set' : canonicalJson(v));
  return keys.filter((k) => canonicalJson(inSpec[k]) !== canonicalJson(here[k])).map((k) => `${k}: ${show(inSpec[k])} in the pipeline, ${show(here[k])} here`);
}

/** The processor and file resolver modules a spec runs (absolute paths). */
function specModules(spec: PipelineSpec): string[] {
  const out = new Set<string>();
  for (const t of [...(spec.tables ?? []), ...(spec.rules ?? [])]) {
    if (t.processor) out.add(t.processor);
    for (const f of t.files ?? []) if (f.resolver) out.add(f.resolver);
  }
  return [...out].sort();
}

/** The processor and file resolver modules a pipeline of a config names (absolute after client/config-file.ts). */
function pipelineModules(p: PipelineConfig): Set<string> {
  const out = new Set<string>();
  if (p.processor) out.add(p.processor);
  for (const t of p.tables) {
    if (t.processor) out.add(t.processor);
    for (const f of t.files ?? []) if (f.resolver) out.add(f.resolver);
  }
  return out;
}

/** The file stores a pipeline's file rules name. */
function pipelineStores(p: PipelineConfig): Set<string> {
  return new Set(p.tables.flatMap((t) => (t.files ?? []).flatMap((f) => [f.from, f.to])));
}

/** What a spec's signature covers: all of it but the signature, canonically. */
export function signedText(spec: PipelineSpec): string {
  return canonicalJson({ ...spec, signature: undefined });
}

/** What the config check looks at: where a pipeline connects, and what it runs. */
export interface SpecConnections {
  id: string;
  sourceName: string;
  source: DataSourceConfig;
  targetName: string;
  target: DataSourceConfig;
  stage: ResolvedStage;
  fileStores: Record<string, DataSourceConfig>;
  modules: string[];
}

export function connectionsOf(spec: PipelineSpec): SpecConnections {
  const { id, sourceName, source, targetName, target, stage } = spec;
  return { id, sourceName, source, targetName, target, stage, fileStores: spec.fileStores ?? {}, modules: specModules(spec) };
}

/** The parts of a spec the check looks at, as one string: equal strings pass or fail alike. */
export function trustKey(spec: PipelineSpec): string {
  return canonicalJson(connectionsOf(spec));
}

/**
 * Where a spec asks for more than `config` allows, one line each; empty when it asks for nothing
 * else. Lines name settings, never secrets (configs hold only the names of the variables with them).
 */
export function specOutsideConfig(spec: PipelineSpec, config: SeaotterConfig): string[] {
  // Always derived here: a spec's own fields of those names (a `modules` list, say) count for nothing.
  return connectionsOutsideConfig(connectionsOf(spec), config);
}

/** `specOutsideConfig` of what a spec connects to (`connectionsOf`, as a running pipeline's status carries it). */
export function connectionsOutsideConfig(c: SpecConnections, config: SeaotterConfig): string[] {
  const problems: string[] = [];
  const pipeline = config.pipelines.find((p) => p.id === c.id);
  if (!pipeline) problems.push(`pipeline "${c.id}" is not defined here`);
  else {
    if (pipeline.source !== c.sourceName) problems.push(`the pipeline's source is "${c.sourceName}", here "${pipeline.source}"`);
    if (pipeline.target !== c.targetName) problems.push(`the pipeline's target is "${c.targetName}", here "${pipeline.target}"`);
  }
  const stores = pipeline ? pipelineStores(pipeline) : new Set<string>();
  const sources: [string, DataSourceConfig][] = [[c.sourceName, c.source], [c.targetName, c.target], ...Object.entries(c.fileStores)];
  for (const [i, [name, inSpec]] of sources.entries()) {
    const here = config.dataSources[name];
    if (!here) problems.push(`data source "${name}" is not defined here`);
    else if (i >= 2 && pipeline && !stores.has(name)) problems.push(`file store "${name}" is not named by the pipeline's file rules here`);
    else for (const d of differences(inSpec, here)) problems.push(`data source "${name}" differs: ${d}`);
  }
  let stageHere: unknown;
  try {
    stageHere = resolveStage(config);
  } catch (err) {
    problems.push(`the stage: ${(err as Error).message}`);
  }
  if (stageHere !== undefined && canonicalJson(stageHere) !== canonicalJson(c.stage)) {
    for (const d of differences(c.stage as Record<string, unknown>, stageHere as Record<string, unknown>)) problems.push(`the stage differs: ${d}`);
  }
  const allowed = pipeline ? pipelineModules(pipeline) : new Set<string>();
  for (const m of c.modules) if (!allowed.has(m)) problems.push(`module ${m} is not named by the pipeline here (paths relative to the config file resolve where the config is)`);
  return problems;
}
