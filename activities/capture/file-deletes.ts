/**
 * Which captured rows may make file deletes, in a pipeline whose file rules delete files
 * (`onDelete: delete`). Such a pipeline lets a batch copy its files only once every earlier batch
 * that may delete some has finished (a file deleted after a later batch copied it again would
 * leave that batch's row without it), so the guess must never say no where transform could
 * delete: a delete of a row whose table deletes files; with `consistency: backQuery` any change
 * (a row gone since becomes a delete); with a processor any change (it may return a delete); an
 * update of a table with a row filter (a row leaving it becomes a delete).
 */
import { hasFileDeletes } from '../../lib/file-keys.js';
import type { RowChange } from '../../lib/model.js';
import type { PipelineSpec } from '../../lib/spec.js';
import { MappingResolver } from '../transform/dynamic-mapping.js';

/** Undefined when the pipeline deletes no files (then nothing needs telling). */
export function fileDeleteRisk(spec: PipelineSpec): ((change: RowChange) => boolean) | undefined {
  if (!hasFileDeletes(spec.tables, spec.rules)) return undefined;
  const resolver = new MappingResolver(spec);
  return (change) => {
    let mapping;
    try {
      mapping = resolver.mappingFor(change);
    } catch {
      return true; // transform will say what is wrong; meanwhile, assume the worst
    }
    if (!mapping?.files?.some((f) => f.onDelete === 'delete')) return false;
    return change.action === 'delete' || spec.consistency === 'backQuery' || mapping.processor !== undefined || (change.action === 'update' && mapping.where !== undefined);
  };
}
