/**
 * The `columns` block of a table rule and the sync `mode` (lib/columns.ts applies them). Kept apart
 * from schema.ts so column features grow in one place.
 */
import { z } from 'zod';

const column = z.string().min(1);
const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);

/**
 * A target column seaotter fills itself: a constant (`value`), the source table's name (`source:
 * table | schema | name`, name being `schema.table`, useful when shards merge into one table) or a
 * copy of a source column (`copy`). Anything richer is a processor's job.
 */
export const derivedColumn = z.union(
  [
    z.strictObject({ value: scalar }),
    z.strictObject({ source: z.enum(['table', 'schema', 'name']) }),
    z.strictObject({ copy: column }),
  ],
  { error: 'expected { value: … }, { source: table | schema | name } or { copy: column }' },
);

export const columnRules = z.strictObject({
  include: z.array(column).optional(),
  exclude: z.array(column).optional(),
  rename: z.record(z.string(), column).optional(),
  /** Source columns written together: when one changes, the whole group is written (field mode). */
  groups: z.array(z.array(column).min(1, 'a group needs at least one column')).optional(),
  /** Target columns filled by seaotter, by target column name. */
  add: z.record(z.string().min(1), derivedColumn).optional(),
});

export const syncMode = z.enum(['row', 'field']);

export type ColumnRulesConfig = z.output<typeof columnRules>;
export type DerivedColumnConfig = z.output<typeof derivedColumn>;
export type SyncMode = z.output<typeof syncMode>;
