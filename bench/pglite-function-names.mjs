// Names PGlite's WebAssembly functions in a CPU profile: its build has no name section, but it exports 2,000-odd
// functions by name, and V8's profiles say wasm-function[N] with N the same function index.
// Usage: node bench/pglite-function-names.mjs 923 875 5730   ->   923 _bt_compare ...
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const wasm = readFileSync(join(dirname(createRequire(import.meta.url).resolve('@electric-sql/pglite')), 'pglite.wasm'));
let at = 8; // past the magic number and the version
const leb128 = () => {
  let value = 0;
  let shift = 0;
  let byte;
  do {
    byte = wasm[at++];
    value |= (byte & 0x7f) << shift;
    shift += 7;
  } while (byte & 0x80);
  return value >>> 0;
};
const names = new Map();
while (at < wasm.length) {
  const section = wasm[at++];
  const end = leb128() + at;
  if (section === 7) {
    // The export section: name, kind (0 is a function), index.
    for (let count = leb128(); count > 0; count--) {
      const length = leb128();
      const name = wasm.subarray(at, at + length).toString();
      at += length;
      const kind = wasm[at++];
      const index = leb128();
      if (kind === 0) names.set(index, name);
    }
  }
  at = end;
}
for (const index of process.argv.slice(2)) console.log(index, names.get(Number(index)) ?? '(not exported)');
