import { describe, expect, it } from 'vitest';
import { keepsItsValue, silentlyChangedValues } from '../../functions/core/json-text.js';

describe('keepsItsValue: whether JSON.parse keeps the number as written', () => {
  it.each(['0', '-0', '1', '1.5', '1.50', '15e-1', '0.1', '-2.5E-7', '9007199254740991', '1e21', '1.7976931348623157e308', '0e999999999999'])('keeps %s', (text) => {
    expect(keepsItsValue(text)).toBe(true);
  });
  it.each(['1e309', '-1e309', '12345678901234567890', '9007199254740993', '1e-400', '0.30000000000000001'])('does not keep %s', (text) => {
    expect(keepsItsValue(text)).toBe(false);
  });
});

describe('silentlyChangedValues', () => {
  it('names each number and repeated key by its path, as zod does, and nothing in strings', () => {
    const text = '{"interactions":[{"metadata":{"ok":[1,2],"a":{"x":"1e309 \\" [","x":1e309},"b":[0,12345678901234567890]}}]}';
    expect(silentlyChangedValues(text)).toEqual([
      { field: 'interactions.0.metadata.a.x', message: 'is given twice: each key may appear once' },
      { field: 'interactions.0.metadata.a.x', message: expect.stringContaining('would not be kept exactly') },
      { field: 'interactions.0.metadata.b.1', message: expect.stringContaining('would not be kept exactly') },
    ]);
  });

  it('walks a million levels without recursion and finds nothing to say about a valid body', () => {
    expect(silentlyChangedValues('['.repeat(1_000_000) + ']'.repeat(1_000_000))).toEqual([]);
    expect(silentlyChangedValues('{"a":1,"b":{"a":2},"c":[{"a":1},{"a":2}]}')).toEqual([]);
  });
});
