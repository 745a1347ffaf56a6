import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { verdictPrefixOf } from '../../functions/aws/buffer-table.js';
import type { InteractionBuffer } from '../../functions/core/buffer.js';
import { isInternalUser } from '../../functions/core/classify.js';
import { currentFigures, type CurrentFigures } from '../../functions/core/current-figures.js';
import { storedUserId, type InteractionInput } from '../../functions/core/interaction.js';
import { DAY_MS } from '../../functions/core/metric.js';
import { toStore } from '../../functions/core/recording.js';
import { configFingerprint, type SnapshotStore } from '../../functions/core/snapshot.js';
import { recordInteractions } from '../../functions/db/interactions.js';
import type { Database } from '../../functions/db/port.js';
import { readDatabaseFigures } from '../../functions/handlers/figures.js';
import { foldBuffer } from '../../functions/handlers/fold.js';
import { changeUnderLease } from '../../functions/handlers/users.js';
import { bufferedService } from '../support/buffered-service.js';
import { startDynalite, type DynamoStandIn } from '../support/dynalite.js';
import { emptyDatabase, migratedDatabase } from '../support/harness.js';
import { migratedPostgres } from '../support/postgres.js';
import { expectRollupsToEqualRecount } from '../support/recount.js';

/*
 * The property the buffer stands on: for any history in Aurora and anything waiting in the buffer, at any later instant,
 * snapshot + buffer gives exactly what Aurora gives once the buffer is folded: every figure of the number, the summary
 * and the publisher. Also when a fold died half-way (after recording, after saving its snapshot, while taking the
 * interactions out of the buffer), which is when an interaction is in Aurora and the buffer at once. And after a user is
 * forgotten or un-marked (DELETE /users, DELETE /internal-users, the AWS way), with interactions arriving meanwhile, or
 * when that change dies half-way.
 */

// The products' own ids: numbers, names in two cases (two users), text with a space and a diaeresis, UUIDs (one of them
// in INTERNAL_USER_IDS, sent in capitals: stored lower-case, the same user).
const USERS = ['A0000000-0000-4000-8000-000000000000', '42', 'user_8f3a', 'Ana', 'ana', 'b0000000-0000-4000-8000-000000000000', 'Zoë 7'];
// report_viewed counts, as configured; coach_call (counting by default) does not here; page_view and purchase never do.
const ENV = {
  INTERNAL_USER_IDS: 'a0000000-0000-4000-8000-000000000000',
  INTERNAL_EMAIL_DOMAINS: 'corp.example',
  BASELINE_DATE: '2026-01-01',
  INTERACTION_TYPES: 'signup,login,report_viewed,payment',
};
const TYPES = ['login', 'signup', 'report_viewed', 'payment', 'page_view', 'coach_call', 'purchase'] as const;
const TAKEN_AT = new Date('2026-03-01T00:00:00Z');

// Backdated up to 60 days or up to 5 minutes ahead; internal marks and internal emails rare, as in life.
const interaction = fc.record({
  user: fc.nat(USERS.length - 1),
  type: fc.constantFrom(...TYPES),
  offsetMs: fc.oneof(fc.integer({ min: -5 * 60_000, max: 60 * DAY_MS }), fc.constantFrom(0, DAY_MS, 7 * DAY_MS, 30 * DAY_MS)),
  internal: fc.constantFrom(false, false, false, false, false, false, false, true),
  test: fc.constantFrom(false, false, false, true),
  bot: fc.constantFrom(false, false, false, false, true),
  email: fc.constantFrom(undefined, undefined, undefined, 'bo@user.example', 'ana@corp.example', 'eu@mail.corp.example'),
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
      ...buffer,
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

/** No change, or a user forgotten or un-marked, with interactions of theirs arriving meanwhile (late) and others after; or the change dies. */
const userChange = fc.record({
  kind: fc.constantFrom('none', 'forget', 'unmark'),
  user: fc.nat(USERS.length - 1),
  late: fc.array(interaction, { maxLength: 3 }),
  after: fc.array(interaction, { maxLength: 3 }),
  dies: fc.constantFrom(false, false, false, true),
  /** Whether a backend then retries two of the user's interactions that waited in the buffer (same event_id). */
  retry: fc.boolean(),
});

/** The buffer, with `late` interactions accepted just before the change reaches it (after Aurora's part); or the change dies there. */
function withLateArrivals(buffer: InteractionBuffer, late: Parameters<InteractionBuffer['accept']>[0], at: Date, dies: boolean): InteractionBuffer {
  const arrive = async () => {
    await buffer.accept(late, at.getTime());
    if (dies) throw new Crash();
  };
  return {
    ...buffer,
    forgetUser: async (user) => (await arrive(), buffer.forgetUser(user)),
    unmarkUser: async (user) => (await arrive(), buffer.unmarkUser(user)),
  };
}

/** The figures that may be compared: everything the number, summary and publisher show (the types in their order too). */
const comparable = (figures: CurrentFigures) => ({
  pulse: figures.pulse,
  lastByType: [...figures.lastByType],
  exclusions: figures.exclusions,
  baseline: figures.baseline,
});

describe.each([
  ['PGlite', () => migratedDatabase(), 40],
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

  it('every figure, over random histories, buffers, instants, crashed folds and users forgotten or un-marked', async () => {
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
        userChange,
        async ([history, buffered], crashAt, laters, change) => {
          await emptyDatabase(db);
          let clock = TAKEN_AT;
          const service = await bufferedService(db, dynamo, { now: () => clock, env: ENV });
          const { config } = service.deps;
          let next = 0;
          // Each generated item is an interaction of its own, however alike: an event_id each (without one, two alike to the
          // millisecond would be one interaction by their content, docs/api.md#retries-count-once).
          const stored = (items: Generated[], at: Date) =>
            items.map((item) => toStore({ ...asInput(item, at), event_id: `event-${++next}` }, at, () => 'unused', config));

          // What Aurora holds, then a snapshot of it (a fold with nothing buffered).
          clock = new Date(TAKEN_AT.getTime() - DAY_MS);
          const inAuroraFirst = stored(history, clock);
          await recordInteractions(db, inAuroraFirst, config.internal.emailDomains);
          clock = TAKEN_AT;
          await service.fold();

          // What waits: accepted by the buffer; then perhaps a fold that dies part-way.
          const waiting = stored(buffered, TAKEN_AT);
          await service.buffer.accept(waiting, TAKEN_AT.getTime());
          if (crashAt !== 'none' && buffered.length > 0) {
            clock = new Date(TAKEN_AT.getTime() + 60_000);
            const stores = crashing(service.buffer, service.snapshots, crashAt);
            await expect(foldBuffer({ ...service.foldDeps, ...stores })).rejects.toBeInstanceOf(Crash);
            // The dead fold's Lambda is gone: its lease has lapsed.
            clock = new Date(TAKEN_AT.getTime() + 10 * 60_000);
          }

          // A user forgotten or un-marked the AWS way, while interactions keep arriving; then more of them.
          const changed = storedUserId(USERS[change.user]!);
          const late = change.kind === 'none' ? [] : stored(change.late.map((item) => ({ ...item, user: change.user })), clock);
          if (change.kind !== 'none') {
            const buffer = withLateArrivals(service.buffer, late, clock, change.dies);
            const changes = changeUnderLease({ ...service.foldDeps, buffer });
            const done = change.kind === 'forget' ? changes.forget(changed) : changes.unmark(changed);
            if (change.dies) {
              await expect(done).rejects.toBeInstanceOf(Crash);
              clock = new Date(clock.getTime() + 10 * 60_000);
            } else {
              await done;
            }
          }
          const fresh = stored(change.after, clock);
          const retried = change.retry ? [...waiting, ...late].filter((item) => item.user_id === changed).slice(0, 2) : [];
          await service.buffer.accept([...fresh, ...retried], clock.getTime());

          const [record, pending] = await Promise.all([service.snapshots.read(), service.buffer.pending()]);
          const instants = laters.map((later) => new Date(clock.getTime() + later));
          const fingerprint = configFingerprint(config);
          const answers = instants.map((at) => currentFigures(record, pending, config, fingerprint, at));

          // Now fold for real (a later drain), and ask Aurora itself at each instant.
          await service.fold();
          expect(await service.buffer.pending()).toEqual([]);
          for (const [i, at] of instants.entries()) {
            const truth = comparable(await readDatabaseFigures(db, config, async () => new Date('2026-01-01T00:00:00Z'), at));
            const answer = answers[i]!;
            if (answer.kind === 'exact') {
              expect(comparable(answer.figures)).toEqual(truth);
            } else if (change.kind !== 'none' && change.dies) {
              // A change that died half-way leaves no snapshot trusted: readers fold, and the fold takes a new one.
              expect(answer.why).toBe('stale');
            } else {
              // Otherwise only a buffered interaction that reveals someone internal sends readers to Aurora.
              expect(answer.why).toBe('newly_internal');
              expect(pending.some((item) => isInternalUser(item.user_id, [item.email_domain], item.marked_internal, config.internal))).toBe(true);
            }
          }
          await expectRollupsToEqualRecount(db);

          // Folded exactly once: every buffered interaction is in Aurora once, none twice; a forgotten user's only as sent after.
          const everything = [...inAuroraFirst, ...waiting, ...late];
          // A forget that died did Aurora's part: what was folded before it is gone, what arrived meanwhile is folded after.
          const forgottenFrom = change.kind !== 'forget' ? [] : change.dies ? [...inAuroraFirst, ...waiting] : everything;
          const forgotten = forgottenFrom.filter((item) => item.user_id === changed).length;
          // A retry is a duplicate while the buffer remembers the event_id; once forgotten, it is accepted and counts anew.
          const reaccepted = change.kind === 'forget' && !change.dies ? retried : [];
          const [{ n }] = (await db.query('SELECT count(*)::int AS n FROM interactions')) as [{ n: number }];
          expect(n).toBe(everything.length - forgotten + fresh.length + reaccepted.length);
          if (change.kind !== 'none' && !change.dies) {
            // Nothing of theirs from before is left, in Aurora or the buffer; un-marked, no mark from before is left.
            const sentAfter = [...fresh.filter((item) => item.user_id === changed), ...reaccepted];
            const stillThere = (await itemsOf(service.tables.buffer, changed)).map((verdict) => verdict.marked_internal);
            const inAurora = await db.query<{ marked: boolean }>('SELECT marked_internal AS marked FROM interactions WHERE user_id = :user', { user: changed });
            if (change.kind === 'forget') {
              expect(inAurora).toHaveLength(sentAfter.length);
              expect(stillThere).toHaveLength(sentAfter.length);
            } else {
              const markedAfter = sentAfter.filter((item) => item.marked_internal).length;
              expect(inAurora.filter((row) => row.marked)).toHaveLength(markedAfter);
              expect(stillThere.filter(Boolean)).toHaveLength(markedAfter);
            }
          }
        },
      ),
      { numRuns },
    );
  }, 600_000);

  /** The verdicts the buffer still holds for a user (pending or remembered for duplicates), read past the adapter. */
  async function itemsOf(table: string, userId: string): Promise<Array<{ marked_internal: boolean }>> {
    const { Items = [] } = await dynamo.client.send(
      new ScanCommand({ TableName: table, ConsistentRead: true, FilterExpression: 'begins_with(verdict, :prefix)', ExpressionAttributeValues: { ':prefix': { S: verdictPrefixOf(userId) } } }),
    );
    return Items.map((item) => JSON.parse(item.verdict!.S!) as { marked_internal: boolean });
  }
});
