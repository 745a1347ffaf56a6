import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../functions/core/config.js';
import { DEFAULT_COUNTING_TYPES, type InteractionInput } from '../../functions/core/interaction.js';
import { DAY_MS } from '../../functions/core/metric.js';
import { readingOf } from '../../functions/core/published-figures.js';
import { toStore } from '../../functions/core/recording.js';
import { configFingerprint, pulseAt, readingFromSnapshot } from '../../functions/core/snapshot.js';
import { recordInteractions } from '../../functions/db/interactions.js';
import { readPulse } from '../../functions/db/metrics.js';
import type { Database } from '../../functions/db/port.js';
import { takeSnapshot } from '../../functions/db/snapshot.js';
import { emptyDatabase, migratedDatabase } from '../support/harness.js';
import { migratedPostgres } from '../support/postgres.js';

const USERS = [
  'a0000000-0000-4000-8000-000000000000', // in INTERNAL_USER_IDS
  'b0000000-0000-4000-8000-000000000000',
  'c0000000-0000-4000-8000-000000000000',
  'd0000000-0000-4000-8000-000000000000',
  'e0000000-0000-4000-8000-000000000000',
  'f0000000-0000-4000-8000-000000000000',
];
const config = loadConfig({ INTERNAL_USER_IDS: USERS[0]!, INTERNAL_EMAIL_DOMAINS: 'corp.example' });
const TAKEN_AT = new Date('2026-03-01T00:00:00Z');
const BASELINE = new Date('2026-01-01T00:00:00Z');

// Backdated up to 60 days, or up to 5 minutes ahead (the skew ingest allows); a few event ids repeat: duplicates.
const interaction = fc.record({
  user: fc.nat(USERS.length - 1),
  type: fc.constantFrom(...DEFAULT_COUNTING_TYPES, 'page_view'),
  offsetMs: fc.oneof(fc.integer({ min: -5 * 60_000, max: 60 * DAY_MS }), fc.constantFrom(0, DAY_MS, 7 * DAY_MS, 30 * DAY_MS)),
  eventId: fc.option(fc.constantFrom('e1', 'e2', 'e3', 'e4'), { nil: undefined }),
  internal: fc.constantFrom(false, false, true),
  test: fc.constantFrom(false, false, false, true),
  email: fc.constantFrom(undefined, 'ana@corp.example', 'bo@user.example'),
});

// Later instants: anywhere in the next 40 days, or exactly on (and a millisecond either side of) a window's edge.
const instant = (history: Array<{ offsetMs: number }>) =>
  fc.oneof(
    fc.integer({ min: 0, max: 40 * DAY_MS }),
    fc.tuple(fc.constantFrom(...history.map((item) => -item.offsetMs)), fc.constantFrom(DAY_MS, 7 * DAY_MS, 30 * DAY_MS), fc.constantFrom(-1, 0, 1)).map(
      ([at, window, nudge]) => Math.max(0, at + window + nudge),
    ),
  );

async function record(db: Database, history: Array<typeof interaction extends fc.Arbitrary<infer T> ? T : never>) {
  let counter = 0;
  for (const item of history) {
    const input: InteractionInput = {
      user_id: USERS[item.user]!,
      interaction_type: item.type,
      occurred_at: new Date(TAKEN_AT.getTime() - item.offsetMs).toISOString(),
      ...(item.eventId ? { event_id: item.eventId } : {}),
      context: { ...(item.internal ? { internal: true } : {}), ...(item.test ? { test: true } : {}), ...(item.email ? { email: item.email } : {}) },
    } as InteractionInput;
    await recordInteractions(db, [toStore(input, TAKEN_AT, () => `generated-${++counter}`, config)]);
  }
}

describe.each([
  ['PGlite', () => migratedDatabase(), 40],
  ['PostgreSQL 16', () => migratedPostgres(), 25],
] as const)('a snapshot on %s gives what the database gives, at any later instant while nothing is recorded', (_engine, open, numRuns) => {
  let db: Database;
  beforeAll(async () => {
    db = await open();
  }, 120_000);
  afterAll(async () => {
    await db?.close();
  });

  it('DAU, WAU, MAU, the last real interaction and the total, over random histories', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(interaction, { minLength: 0, maxLength: 14 }).chain((history) =>
          fc.tuple(fc.constant(history), fc.array(history.length > 0 ? instant(history) : fc.integer({ min: 0, max: 40 * DAY_MS }), { minLength: 1, maxLength: 6 })),
        ),
        async ([history, laters]) => {
          await emptyDatabase(db);
          await record(db, history);
          const taken = await takeSnapshot(db, config, configFingerprint(config), async () => BASELINE, TAKEN_AT);
          if (taken.kind !== 'snapshot') throw new Error('a handful of users is far below the bound');
          for (const later of [0, ...laters]) {
            const at = new Date(TAKEN_AT.getTime() + later);
            const fromDatabase = await readPulse(db, config.internal, at);
            expect(pulseAt(taken.snapshot, at)).toEqual(fromDatabase);
            expect(readingFromSnapshot(taken.snapshot, at)).toEqual(readingOf(fromDatabase, BASELINE, at));
          }
        },
      ),
      { numRuns },
    );
  }, 600_000);
});
