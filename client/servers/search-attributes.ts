// seaotter's custom search attributes, shared by `seaotter dev up`, the worker and the tests.
import { Connection } from '@temporalio/client';

/** Search attribute names and their Temporal types, as the contract lists them. */
export const SEARCH_ATTRIBUTES = {
  SeaotterPipeline: 'Keyword',
  SeaotterBatchSeq: 'Int',
  SeaotterRows: 'Int',
  SeaotterPosition: 'Keyword',
  SeaotterState: 'Keyword',
} as const;

/** A search attribute type as the `temporal` CLI spells it. */
export type SearchAttributeTypeName = (typeof SEARCH_ATTRIBUTES)[keyof typeof SEARCH_ATTRIBUTES];

// temporal.api.enums.v1.IndexedValueType, by CLI name.
const INDEXED_VALUE_TYPE: Record<SearchAttributeTypeName, number> = { Keyword: 2, Int: 3 };

// A stuck server must not hang `dev up` or a worker's start-up.
const deadline = () => Date.now() + 30_000;

/** The `--search-attribute Name=Type` flags for `temporal server start-dev`. */
export function searchAttributeFlags(): string[] {
  return Object.entries(SEARCH_ATTRIBUTES).flatMap(([name, type]) => ['--search-attribute', `${name}=${type}`]);
}

/**
 * Registers whichever of seaotter's search attributes the namespace lacks. Idempotent: lists
 * first, and tolerates a concurrent registration of the same names. Returns the names it added.
 */
export async function ensureSearchAttributes(target: Connection | string, namespace = 'default'): Promise<string[]> {
  const connection = typeof target === 'string' ? await Connection.connect({ address: target }) : target;
  try {
    const missing = await missingSearchAttributes(connection, namespace);
    if (missing.length === 0) return [];
    const searchAttributes = Object.fromEntries(missing.map((name) => [name, INDEXED_VALUE_TYPE[SEARCH_ATTRIBUTES[name]]]));
    try {
      await connection.withDeadline(deadline(), () =>
        connection.operatorService.addSearchAttributes({ namespace, searchAttributes }),
      );
    } catch (err) {
      // Someone else (another worker starting) may have added them in between.
      if ((await missingSearchAttributes(connection, namespace)).length > 0) throw err;
    }
    return missing;
  } finally {
    if (typeof target === 'string') await connection.close();
  }
}

/** Names of seaotter's search attributes that the namespace does not have yet. */
export async function missingSearchAttributes(connection: Connection, namespace = 'default'): Promise<Array<keyof typeof SEARCH_ATTRIBUTES>> {
  const { customAttributes } = await connection.withDeadline(deadline(), () =>
    connection.operatorService.listSearchAttributes({ namespace }),
  );
  const names = Object.keys(SEARCH_ATTRIBUTES) as Array<keyof typeof SEARCH_ATTRIBUTES>;
  return names.filter((name) => !(customAttributes && name in customAttributes));
}
