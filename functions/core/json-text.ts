import type { FieldProblem } from './interaction.js';

/** Past this nesting the text is not checked further: the schema refuses anything that deep anyway. */
const SCAN_DEPTH = 64;
/** Enough to tell the client what to fix, without building paths for a body full of bad numbers. */
const MAX_PROBLEMS = 20;

const SHORT_DECIMAL = /^-?\d{1,15}$|^-?(?=[\d.]{2,16}$)\d+\.\d+$/;
const DECIMAL = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/;

/** A JSON number's value as sign, significant digits and exponent; every zero (-0 too) is `0`. */
function decimalOf(text: string): string | null {
  const match = DECIMAL.exec(text);
  if (!match) return null;
  const [, sign, whole, fraction = '', exponent = '0'] = match;
  let digits = (whole! + fraction).replace(/^0+/, '');
  if (digits === '') return '0';
  let power = BigInt(exponent) - BigInt(fraction.length);
  const trailing = digits.length - digits.replace(/0+$/, '').length;
  digits = digits.slice(0, digits.length - trailing);
  power += BigInt(trailing);
  return `${sign}${digits}e${power}`;
}

/**
 * Whether the number written as `text` is the number that gets stored: JSON.parse reads it as a double, so
 * 1e309 (Infinity, stored as null) and 12345678901234567890 (stored as 12345678901234567000) are not.
 * 1.50 and 15e-1 are (the same value as 1.5); -0 is too, as 0, since PostgreSQL numbers have no negative zero.
 */
export function keepsItsValue(text: string): boolean {
  // At most 15 significant digits and no exponent: always held exactly (DBL_DIG is 15), the common case.
  if (text.length <= 16 && SHORT_DECIMAL.test(text)) return true;
  const value = Number(text);
  return Number.isFinite(value) && decimalOf(text) === decimalOf(String(value));
}

const [OPEN_OBJECT, CLOSE_OBJECT, OPEN_ARRAY, CLOSE_ARRAY, COMMA, QUOTE, BACKSLASH, MINUS, PLUS, DOT, ZERO, NINE] = [
  ...'{}[],"\\-+.09',
].map((char) => char.charCodeAt(0)) as [number, number, number, number, number, number, number, number, number, number, number, number];
const isNumberPart = (c: number) => (c >= ZERO && c <= NINE) || c === DOT || c === MINUS || c === PLUS || c === 101 || c === 69; // e, E

interface Frame {
  keys: Set<string> | null;
  /** The key or index of the value being read in this object or array. */
  at: string | number;
  expectingKey: boolean;
}

/**
 * What JSON.parse would silently change in a valid JSON text: numbers it cannot keep exactly, and keys given
 * twice (the last one wins). Named by field, as zod names them (`interactions.0.metadata.amount`).
 * A single pass over the text with an explicit stack, so no nesting can overflow the call stack.
 */
export function silentlyChangedValues(text: string): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const frames: Frame[] = [];
  const field = () => (frames.length === 0 ? '(body)' : frames.map((frame) => frame.at).join('.'));
  for (let i = 0; i < text.length && problems.length < MAX_PROBLEMS; i++) {
    const c = text.charCodeAt(i);
    if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      const object = c === OPEN_OBJECT;
      frames.push({ keys: object ? new Set() : null, at: object ? '' : 0, expectingKey: object });
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      frames.pop();
    } else if (c === COMMA) {
      const frame = frames.at(-1)!;
      if (frame.keys) frame.expectingKey = true;
      else frame.at = (frame.at as number) + 1;
    } else if (c === QUOTE) {
      let end = text.indexOf('"', i + 1);
      let escaped = false;
      for (;;) {
        let backslashes = 0;
        while (text.charCodeAt(end - 1 - backslashes) === BACKSLASH) backslashes++;
        if (backslashes % 2 === 0) break;
        escaped = true;
        end = text.indexOf('"', end + 1);
      }
      const frame = frames.at(-1);
      if (frame?.expectingKey) {
        const key = escaped ? (JSON.parse(text.slice(i, end + 1)) as string) : text.slice(i + 1, end);
        frame.at = key;
        frame.expectingKey = false;
        if (frame.keys!.has(key) && frames.length <= SCAN_DEPTH) problems.push({ field: field(), message: 'is given twice: each key may appear once' });
        frame.keys!.add(key);
      }
      i = end;
    } else if (c === MINUS || (c >= ZERO && c <= NINE)) {
      let end = i + 1;
      while (end < text.length && isNumberPart(text.charCodeAt(end))) end++;
      if (frames.length <= SCAN_DEPTH && !keepsItsValue(text.slice(i, end))) {
        problems.push({ field: field(), message: 'is a number that would not be kept exactly (not finite, or beyond double precision): send it as a string' });
      }
      i = end - 1;
    }
  }
  return problems;
}
