import { timestampText, type SqlParams, type SqlValue } from './port.js';

/** `:name` -> `$n`, leaving `::casts`, quoted text, comments and $tag$ bodies alone. Shared by the PGlite and pg adapters. */
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
  return { text, values: order.map((name) => positionalValue(params[name] ?? null)) };
}

function positionalValue(value: SqlValue): unknown {
  if (value instanceof Date) return timestampText(value);
  if (value !== null && typeof value === 'object') return 'uuid' in value ? value.uuid : JSON.stringify(value.json);
  return value;
}
