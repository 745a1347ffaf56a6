import { PGlite } from '@electric-sql/pglite';
import { timestampText, type Database, type Row, type SqlParams, type SqlValue } from './port.js';

/** `:name` -> `$n`, leaving `::casts`, quoted text, comments and $tag$ bodies alone. */
export function toPositional(sql: string, params: SqlParams): { text: string; values: unknown[] } {
  const order: string[] = [];
  const text = sql.replace(
    /'(?:[^']|'')*'|"(?:[^"]|"")*"|--[^\n]*|\/\*[\s\S]*?\*\/|(\$[A-Za-z_]*\$)[\s\S]*?\1|::|:([A-Za-z_][A-Za-z0-9_]*)/g,
    (match, _dollarTag: string | undefined, name: string | undefined) => {
      if (name === undefined) return match;
      if (!(name in params)) throw new Error(`missing SQL parameter :${name}`);
      let index = order.indexOf(name);
      if (index < 0) index = order.push(name) - 1;
      return `$${index + 1}`;
    },
  );
  return { text, values: order.map((name) => toPgliteValue(params[name] ?? null)) };
}

function toPgliteValue(value: SqlValue): unknown {
  if (value instanceof Date) return timestampText(value);
  if (value !== null && typeof value === 'object') return 'uuid' in value ? value.uuid : JSON.stringify(value.json);
  return value;
}

type Queryable = Pick<PGlite, 'query'>;

function adapter(pg: Queryable, transaction: Database['transaction'], close: () => Promise<void>): Database {
  return {
    async query<T = Row>(sql: string, params: SqlParams = {}) {
      const { text, values } = toPositional(sql, params);
      return (await pg.query<T>(text, values)).rows;
    },
    transaction,
    close,
  };
}

/**
 * Embedded PostgreSQL for the local run and the tests. `dataDir` is a folder to persist in,
 * or `memory` for a throwaway database.
 */
export async function openPglite(dataDir = 'memory'): Promise<Database> {
  const pg = await PGlite.create(dataDir === 'memory' ? undefined : dataDir);
  // Same zone as Aurora's default, so zone-less timestamps mean UTC on both adapters.
  await pg.exec("SET TIME ZONE 'UTC'");
  const nested = (): never => {
    throw new Error('nested transactions are not supported');
  };
  const self: Database = adapter(
    pg,
    (work) => pg.transaction((tx) => work(adapter(tx, nested, async () => {}))),
    () => pg.close(),
  );
  return self;
}
