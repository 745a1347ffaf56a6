import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EXCLUSION_REASONS } from '../../functions/core/classify.js';
import { loadConfig } from '../../functions/core/config.js';
import { DAY_MS } from '../../functions/core/metric.js';
import { deflateRawSync } from 'node:zlib';
import { configFingerprint, decodeSnapshot, encodeSnapshot, MAX_SNAPSHOT_BYTES, type Snapshot } from '../../functions/core/snapshot.js';

const TAKEN_AT = new Date('2026-03-01T00:00:00Z');
const time = fc.integer({ min: Date.parse('2000-01-01T00:00:00Z'), max: TAKEN_AT.getTime() + 300_000 });

// Any user ids (issue 20 allows any text of 1 to 128 characters), any times since 2000, any exclusions.
const anySnapshot: fc.Arbitrary<Snapshot> = fc.record({
  takenAt: fc.constant(TAKEN_AT),
  fingerprint: fc.string({ minLength: 32, maxLength: 32, unit: fc.constantFrom(...'0123456789abcdef') }),
  baseline: fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: TAKEN_AT, noInvalidDate: true }),
  realUsers: fc.array(fc.tuple(fc.string({ minLength: 1, maxLength: 128, unit: 'grapheme' }), time)).map((pairs) => new Map(pairs)),
  internalUsers: fc.array(fc.string({ minLength: 1, maxLength: 128 })).map((ids) => new Set(ids)),
  // Any type names, numeric-looking ones too (an object's keys would reorder them), with a time or none.
  lastByType: fc
    .array(fc.tuple(fc.oneof(fc.constantFrom('login', 'page_view', '42', '7', 'report.viewed'), fc.stringMatching(/^[a-z0-9_.:-]{1,50}$/)), fc.option(time, { nil: null })))
    .map((pairs) => new Map(pairs)),
  lastExcluded: fc.option(
    fc.record({
      eventId: fc.string({ minLength: 1, maxLength: 200 }),
      interactionType: fc.constantFrom('page_view', 'login'),
      occurredAt: time.map((ms) => new Date(ms)),
      reason: fc.constantFrom(...EXCLUSION_REASONS),
    }),
    { nil: null },
  ),
  recentExclusions: fc
    .array(fc.record({ at: time, reason: fc.constantFrom(...EXCLUSION_REASONS), count: fc.integer({ min: 1, max: 10_000 }) }))
    .map((groups) => groups.sort((a, b) => a.at - b.at)),
});

describe('the snapshot encoding', () => {
  it('round-trips any snapshot: users keyed by id, internal users, times per type, exclusions', () => {
    fc.assert(
      fc.property(anySnapshot, (snapshot) => {
        expect(decodeSnapshot(encodeSnapshot(snapshot))).toEqual(snapshot);
      }),
    );
  });

  it(`keeps 6,200 real users with UUID ids inside its ${MAX_SNAPSHOT_BYTES / 1024} KB (about 21 bytes a user)`, () => {
    const start = TAKEN_AT.getTime() - 90 * DAY_MS;
    const users = new Map(Array.from({ length: 6_200 }, (_, n) => [randomUUID(), start + Math.floor((n * 90 * DAY_MS) / 6_200)] as const));
    const snapshot: Snapshot = {
      takenAt: TAKEN_AT,
      fingerprint: 'f'.repeat(32),
      baseline: new Date('2026-01-01T00:00:00Z'),
      realUsers: users,
      internalUsers: new Set([randomUUID()]),
      lastByType: new Map([['login', TAKEN_AT.getTime()], ['page_view', null]]),
      lastExcluded: null,
      recentExclusions: [],
    };
    const bytes = encodeSnapshot(snapshot);
    expect(bytes.byteLength).toBeLessThan(6_200 * 24);
    expect(bytes.byteLength).toBeLessThan(MAX_SNAPSHOT_BYTES);
    expect(decodeSnapshot(bytes)!.realUsers).toEqual(users);
  });

  it('decodes no snapshot another release encoded (readers then fold for a new one)', () => {
    const older = deflateRawSync(Buffer.from(JSON.stringify({ v: 2, takenAt: TAKEN_AT.getTime(), lastRealByType: {} }), 'utf8'));
    expect(decodeSnapshot(older)).toBeNull();
  });
});

describe('the configuration fingerprint', () => {
  it('the fingerprint changes with what counts, not with the order lists were written in', () => {
    const base = { INTERNAL_USER_IDS: 'a0000000-0000-4000-8000-000000000000,b0000000-0000-4000-8000-000000000000', INTERNAL_EMAIL_DOMAINS: 'corp.example' };
    const fingerprint = (env: Record<string, string>) => configFingerprint(loadConfig(env));
    expect(fingerprint({ ...base, INTERNAL_USER_IDS: 'B0000000-0000-4000-8000-000000000000,a0000000-0000-4000-8000-000000000000' })).toBe(fingerprint(base));
    const changed = [
      { ...base, INTERNAL_USER_IDS: 'a0000000-0000-4000-8000-000000000000' },
      { ...base, INTERNAL_EMAIL_DOMAINS: 'corp.example,other.example' },
      { ...base, WARNING_DAYS: '2' },
      { ...base, CRITICAL_DAYS: '8' },
      { ...base, BASELINE_DATE: '2026-02-01' },
      { ...base, INTERACTION_TYPES: 'signup,login,report_viewed' },
    ].map(fingerprint);
    expect(new Set([fingerprint(base), ...changed]).size).toBe(7);
    // Targets and milestones decide nothing the snapshot holds.
    expect(fingerprint({ ...base, DAU_TARGET: '99' })).toBe(fingerprint(base));
  });
});
