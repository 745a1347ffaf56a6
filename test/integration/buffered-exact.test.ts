import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InteractionBuffer } from '../../functions/core/buffer.js';
import { currentFigures, type CurrentFigures } from '../../functions/core/current-figures.js';
import { INTERACTION_TYPES, type InteractionInput } from '../../functions/core/interaction.js';
import { DAY_MS } from '../../functions/core/metric.js';
import { toStore } from '../../functions/core/recording.js';
import { configFingerprint, type SnapshotStore } from '../../functions/core/snapshot.js';
import { recordInteractions } from '../../functions/db/interactions.js';
import type { Database } from '../../functions/db/port.js';
import { readDatabaseFigures } from '../../functions/handlers/figures.js';
import { foldBuffer } from '../../functions/handlers/fold.js';
import { bufferedService } from '../support/buffered-service.js';
import { startDynalite, type DynamoStandIn } from '../support/dynalite.js';
import { emptyDatabase, migratedDatabase } from '../support/harness.js';
import { migratedPostgres } from '../support/postgres.js';

/*
 * The property the buffer stands on: for any history in Aurora and anything waiting in the buffer, at any later instant,
 * snapshot + buffer gives exactly what Aurora gives once the buffer is folded: every figure of the number, the summary
 * and the publisher. Also when a fold died half-way (after recording, after saving its snapshot, while taking the
 * interactions out of the buffer), which is when an interaction is in Aurora and the buffer at once.
 */

const USERS = [
  'a0000000-0000-4000-8000-000000000000', // in INTERNAL_USER_IDS
  'b0000000-0000-4000-8000-000000000000',
  'c0000000-0000-4000-8000-000000000000',
  'd0000000-0000-4000-8000-000000000000',
  'e0000000-0000-4000-8000-000000000000',
  'f0000000-0000-4000-8000-000000000000',
];
const ENV = { INTERNAL_USER_IDS: USERS[0]!, INTERNAL_EMAIL_DOMAINS: 'corp.example', BASELINE_DATE: '2026-01-01' };
const TAKEN_AT = new Date('2026-03-01T00:00:00Z');

// Backdated up to 60 days or up to 5 minutes ahead; internal marks and internal emails rare, as in life.
const interaction = fc.record({
  user: fc.nat(USERS.length - 1),
  type: fc.constantFrom(...INTERACTION_TYPES),
  offsetMs: fc.oneof(fc.integer({ min: -5 * 60_000, max: 60 * DAY_MS }), fc.constantFrom(0, DAY_MS, 7 * DAY_MS, 30 * DAY_MS)),
  internal: fc.constantFrom(false, false, false, false, false, false, false, true),
  test: fc.constantFrom(false, false, false, true),
  bot: fc.constantFrom(false, false, false, false, true),
  email: fc.constantFrom(undefined, undefined, undefined, 'bo@user.example', 'ana@corp.example'),
});
type Generated = typeof interaction extends fc.Arbitrary<infer T> ? T : never;

const asInput = (item: Generated, at: Date): InteractionInput => ({
  user_id: USERS[item.user]!,
  interaction_type: item.type,
  occurred_at: new Date(at.getTime() - item.offsetMs).toISOString(),
  context: {
    ...(item.internal ? { internal: true } : {}),
    ...(item.test ? { test: true } : {}),
    ...(item.bot ? { user_agent: 'curl/8.5.0' } : {}),
    ...(item.email ? { email: item.email } : {}),
  },
});

/** Where a fold dies: not at all, after recording, after saving its snapshot, or half-way through taking its batch out. */
const CRASH_POINTS = ['none', 'after_recording', 'after_saving', 'while_marking'] as const;
type CrashPoint = (typeof CRASH_POINTS)[number];

class Crash extends Error {}

/** The stores, failing at the crash point. */
function crashing(buffer: InteractionBuffer, snapshots: SnapshotStore, at: CrashPoint): { buffer: InteractionBuffer; snapshots: SnapshotStore } {
  return {
    snapshots: {
      read: () => snapshots.read(),
      save: async (record) => {
        if (at === 'after_recording') throw new Crash();
        await snapshots.save(record);
      },
    },
    buffer: {
      accept: (items, receivedAt) => buffer.accept(items, receivedAt),
      pending: () => buffer.pending(),
      markFolded: async (ids, when) => {
        if (at === 'after_saving') throw new Crash();
        if (at === 'while_marking') {
          await buffer.markFolded(ids.slice(0, Math.ceil(ids.length / 2)), when);
          throw new Crash();
        }
        await buffer.markFolded(ids, when);
      },
    },
  };
}

/** The figures that may be compared: everything the number, summary and publisher show. */
const comparable = (figures: CurrentFigures) => ({
  pulse: figures.pulse,
  lastByType: Object.fromEntries(figures.lastByType),
  exclusions: figures.exclusions,
  baseline: figures.baseline,
});

describe.each([
  ['PGlite', () => migratedDatabase(), 30],
  ['PostgreSQL 16', () => migratedPostgres(), 20],
] as const)('snapshot + buffer on %s gives what Aurora gives after the fold, at any later instant', (_engine, open, numRuns) => {
  let db: Database;
  let dynamo: DynamoStandIn;
  beforeAll(async () => {
    [db, dynamo] = await Promise.all([open(), startDynalite()]);
  }, 120_000);
  afterAll(async () => {
    await Promise.all([db?.close(), dynamo?.close()]);
  });

  it('every figure, over random histories, buffers, instants and crashed folds', async () => {
    await fc.assert(
      fc.asyncProperty(
        // Buffered interactions mostly by users the history already has: returning users are where counting twice hides.
        fc.array(interaction, { maxLength: 12 }).chain((history) =>
          fc.tuple(
            fc.constant(history),
            fc.array(
              history.length === 0
                ? interaction
                : fc.tuple(interaction, fc.constantFrom(...history.map((item) => item.user)), fc.boolean()).map(([item, user, again]) => (again ? { ...item, user } : item)),
              { maxLength: 10 },
            ),
          ),
        ),
        fc.constantFrom(...CRASH_POINTS),
        fc.array(fc.oneof(fc.integer({ min: 0, max: 40 * DAY_MS }), fc.constantFrom(DAY_MS - 1, DAY_MS, 7 * DAY_MS + 1, 30 * DAY_MS)), {
          minLength: 1,
          maxLength: 5,
        }),
        async ([history, buffered], crashAt, laters) => {
          await emptyDatabase(db);
          let clock = TAKEN_AT;
          const service = await bufferedService(db, dynamo, { now: () => clock, env: ENV });
          const { config } = service.deps;
          let next = 0;
          const stored = (items: Generated[], at: Date) => items.map((item) => toStore(asInput(item, at), at, () => `event-${++next}`));

          // What Aurora holds, then a snapshot of it (a fold with nothing buffered).
          clock = new Date(TAKEN_AT.getTime() - DAY_MS);
          await recordInteractions(db, stored(history, clock), config.internal.emailDomains);
          clock = TAKEN_AT;
          await service.fold();

          // What waits: accepted by the buffer; then perhaps a fold that dies part-way.
          await service.buffer.accept(stored(buffered, TAKEN_AT), TAKEN_AT.getTime());
          if (crashAt !== 'none' && buffered.length > 0) {
            clock = new Date(TAKEN_AT.getTime() + 60_000);
            const stores = crashing(service.buffer, service.snapshots, crashAt);
            await expect(foldBuffer({ ...service.foldDeps, ...stores })).rejects.toBeInstanceOf(Crash);
            // The dead fold's Lambda is gone: its lease has lapsed.
            clock = new Date(TAKEN_AT.getTime() + 10 * 60_000);
          }

          const [record, pending] = await Promise.all([service.snapshots.read(), service.buffer.pending()]);
          const instants = laters.map((later) => new Date(clock.getTime() + later));
          const fingerprint = configFingerprint(config);
          const answers = instants.map((at) => currentFigures(record, pending, config.internal, fingerprint, at));

          // Now fold for real (a later drain), and ask Aurora itself at each instant.
          await service.fold();
          expect(await service.buffer.pending()).toEqual([]);
          for (const [i, at] of instants.entries()) {
            const truth = comparable(await readDatabaseFigures(db, config, async () => new Date('2026-01-01T00:00:00Z'), at));
            const answer = answers[i]!;
            if (answer.kind === 'exact') {
              expect(comparable(answer.figures)).toEqual(truth);
            } else {
              // Only a buffered interaction that reveals someone internal sends readers to Aurora.
              expect(answer.why).toBe('newly_internal');
              expect(buffered.some((item) => item.internal || item.email === 'ana@corp.example')).toBe(true);
            }
          }
          // Folded exactly once: every buffered interaction is in Aurora once, none twice.
          const [{ n }] = (await db.query('SELECT count(*)::int AS n FROM interactions')) as [{ n: number }];
          expect(n).toBe(history.length + buffered.length);
        },
      ),
      { numRuns },
    );
  }, 600_000);
});
