import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { putFigures } from '../../functions/aws/cloudwatch.js';
import type { InteractionBuffer } from '../../functions/core/buffer.js';
import { loadConfig } from '../../functions/core/config.js';
import { figuresOf } from '../../functions/core/published-figures.js';
import { MAX_SNAPSHOT_USERS } from '../../functions/core/snapshot.js';
import { readReading } from '../../functions/db/alerts.js';
import type { Database } from '../../functions/db/port.js';
import { acceptIntoBuffer, createIngestHandler } from '../../functions/handlers/ingest.js';
import { createPublishMetricHandler } from '../../functions/handlers/publish-metric.js';
import { bufferedService } from '../support/buffered-service.js';
import { startDynalite, type DynamoStandIn } from '../support/dynalite.js';
import { capturingLog, emptyDatabase, migratedDatabase, post, testClock } from '../support/harness.js';

/*
 * The publisher as it runs in AWS: figures from the snapshot plus the buffer (DynamoDB, through dynalite), Aurora only
 * when they cannot say. The database is PGlite here; the Data API's own rules are tested through the stand-in elsewhere.
 */

const cloudWatch = mockClient(CloudWatchClient);
// The suites share worker processes (vitest.config.ts, isolate off): later files get the real client back.
afterAll(() => cloudWatch.restore());
const NAMESPACE = 'SN1MA';
const BASELINE_DATE = '2026-02-01';
const START = '2026-03-01T00:00:00Z';
const HOUR = 3_600_000;
const user = (n: number) => `${String(n).padStart(8, '0')}-0000-4000-8000-000000000000`;

let real: Database;
let dynamo: DynamoStandIn;
beforeAll(async () => {
  [real, dynamo] = await Promise.all([migratedDatabase(), startDynalite()]);
});
afterAll(async () => {
  await Promise.all([real?.close(), dynamo?.close()]);
});
beforeEach(async () => {
  await emptyDatabase(real);
  cloudWatch.reset();
  cloudWatch.on(PutMetricDataCommand).resolves({});
});

/** The real database, counting the statements that reach it; `failWith` makes every statement fail. */
function counted(db: Database) {
  const counter = { queries: 0, failWith: null as Error | null };
  const wrapped: Database = {
    query: (sql, params) => {
      counter.queries += 1;
      return counter.failWith ? Promise.reject(counter.failWith) : db.query(sql, params);
    },
    transaction: (work) => (counter.failWith ? Promise.reject(counter.failWith) : db.transaction(work)),
    close: async () => {},
  };
  return { counter, db: wrapped };
}

async function service(env: Record<string, string> = {}, tables?: { buffer: string; figures: string }) {
  const clock = testClock(START);
  const { counter, db } = counted(real);
  const { log, lines } = capturingLog();
  const aws = await bufferedService(db, dynamo, { now: clock.now, log, env: { BASELINE_DATE, ...env }, tables });
  const client = new CloudWatchClient({});
  return {
    ...aws,
    clock,
    counter,
    lines,
    publish: createPublishMetricHandler({
      ...aws.deps,
      figures: aws.figures,
      foldEarly: aws.fold,
      putFigures: (figures, at) => putFigures(client, NAMESPACE, figures, at),
    }),
  };
}

const sent = () => cloudWatch.commandCalls(PutMetricDataCommand).map((call) => call.args[0].input);
const valuesOf = (input: ReturnType<typeof sent>[number]) => Object.fromEntries(input.MetricData!.map((datum) => [datum.MetricName, datum.Value]));
/** What PostgreSQL says at `at`, once everything is folded: the figures the publisher owed. */
const truthAt = async (at: Date, env: Record<string, string> = {}) =>
  figuresOf(await readReading(real, loadConfig({ BASELINE_DATE, ...env }), async () => new Date(BASELINE_DATE), at)).map((figure) => figure.value);

async function recordAt(ingest: ReturnType<typeof createIngestHandler>, userId: string, occurredAt: string, context: object = {}) {
  const result = await ingest(post('/metrics/interaction', { user_id: userId, interaction_type: 'coach_call', occurred_at: occurredAt, context }));
  expect(result.statusCode).toBe(202);
}

describe('the publisher over snapshot + buffer', () => {
  it('24 simulated hours: 288 PutMetricData calls with the right values, and no database call after the first snapshot', async () => {
    const { ingest, publish, clock, counter, fold } = await service();
    // Last real times chosen so that each window loses someone during the day.
    await recordAt(ingest, user(1), '2026-02-28T23:00:00.000Z'); // leaves DAU at 23:00
    await recordAt(ingest, user(2), '2026-02-28T01:00:00.000Z'); // leaves DAU at 01:00
    await recordAt(ingest, user(3), '2026-02-22T06:00:00.000Z'); // leaves WAU at 06:00
    await fold();
    await recordAt(ingest, user(4), '2026-01-30T12:00:00.000Z'); // leaves MAU at 12:00, still buffered
    await recordAt(ingest, user(5), '2026-01-10T00:00:00.000Z'); // counts only in the total, still buffered
    const afterFold = counter.queries;
    for (let run = 0; run < 288; run += 1) {
      clock.set(new Date(Date.parse(START) + run * 300_000).toISOString());
      await publish();
    }
    expect(counter.queries).toBe(afterFold);

    await fold();
    const calls = sent();
    expect(calls).toHaveLength(288);
    for (const [run, input] of calls.entries()) {
      const at = new Date(Date.parse(START) + run * 300_000);
      expect(input.MetricData!.slice(0, 5).map((datum) => datum.Value)).toEqual(await truthAt(at));
    }
    const at = (time: string) => valuesOf(calls[(Date.parse(`2026-03-01T${time}Z`) - Date.parse(START)) / 300_000]!);
    expect(at('00:00:00')).toEqual({
      DaysSinceLastRealUserInteraction: 1 / 24,
      DailyActiveUsers: 2,
      WeeklyActiveUsers: 3,
      MonthlyActiveUsers: 4,
      TotalRealUsers: 5,
      // Two interactions have waited since they were accepted at 00:00.
      OldestBufferedInteractionAge: 0,
    });
    expect(at('01:00:00')).toMatchObject({ DailyActiveUsers: 1, WeeklyActiveUsers: 3, MonthlyActiveUsers: 4, OldestBufferedInteractionAge: 3600 });
    expect(at('12:00:00')).toMatchObject({ DailyActiveUsers: 1, WeeklyActiveUsers: 2, MonthlyActiveUsers: 3, TotalRealUsers: 5 });
    expect(at('23:55:00')).toMatchObject({ DaysSinceLastRealUserInteraction: (HOUR + 23 * HOUR + 55 * 60_000) / 86_400_000, DailyActiveUsers: 0 });
  });

  it('counts what ingest buffered at the next run without calling the database; a user already real counts once', async () => {
    const { ingest, publish, clock, counter, fold } = await service();
    await recordAt(ingest, user(1), '2026-01-01T00:00:00.000Z');
    await fold();
    clock.set('2026-03-01T00:04:00Z');
    const before = counter.queries;
    // User 1 is back (real 59 days ago: not a new user); user 2 is new.
    await recordAt(ingest, user(1), '2026-03-01T00:03:00.000Z');
    await recordAt(ingest, user(2), '2026-03-01T00:03:30.000Z');
    clock.set('2026-03-01T00:05:00Z');
    await publish();
    expect(counter.queries).toBe(before);
    expect(valuesOf(sent()[0]!)).toEqual({
      DaysSinceLastRealUserInteraction: 1.5 / 1440,
      DailyActiveUsers: 2,
      WeeklyActiveUsers: 2,
      MonthlyActiveUsers: 2,
      TotalRealUsers: 2,
      OldestBufferedInteractionAge: 60,
    });
    await fold();
    expect(sent()[0]!.MetricData!.slice(0, 5).map((datum) => datum.Value)).toEqual(await truthAt(new Date('2026-03-01T00:05:00Z')));
  });

  it('a deploy that changes what counts takes a new snapshot: an internal user leaves the number at once', async () => {
    const before = await service();
    await recordAt(before.ingest, user(1), '2026-02-28T12:00:00.000Z');
    await recordAt(before.ingest, user(2), '2026-02-28T18:00:00.000Z');
    await before.publish();
    expect(valuesOf(sent()[0]!)).toMatchObject({ DailyActiveUsers: 2, TotalRealUsers: 2 });

    // The same tables, read under the new configuration.
    const after = await service({ INTERNAL_USER_IDS: user(2) }, before.tables);
    after.clock.set('2026-03-01T00:05:00Z');
    await after.publish();
    expect(after.lines.some((line) => line.includes('"why":"other_configuration"'))).toBe(true);
    expect(valuesOf(sent()[1]!)).toMatchObject({
      DaysSinceLastRealUserInteraction: (12 * HOUR + 5 * 60_000) / 86_400_000,
      DailyActiveUsers: 1,
      TotalRealUsers: 1,
    });
  });

  it('a buffered interaction that makes someone internal is folded first: their whole history leaves the number', async () => {
    const { ingest, publish, clock, fold, lines } = await service();
    await recordAt(ingest, user(1), '2026-02-27T12:00:00.000Z');
    await recordAt(ingest, user(2), '2026-02-28T12:00:00.000Z');
    await fold();
    // User 2 turns out to be the founder.
    await recordAt(ingest, user(2), '2026-02-28T13:00:00.000Z', { internal: true });
    clock.set('2026-03-01T00:05:00Z');
    await publish();
    expect(lines.some((line) => line.includes('"why":"newly_internal"'))).toBe(true);
    expect(valuesOf(sent()[0]!)).toMatchObject({ DaysSinceLastRealUserInteraction: (36 * HOUR + 5 * 60_000) / 86_400_000, TotalRealUsers: 1, OldestBufferedInteractionAge: 0 });
  });

  it('with no snapshot and Aurora not answering, the run fails (the publisher alarm counts it)', async () => {
    const { publish, counter } = await service();
    const { DatabaseUnavailableError } = await import('../../functions/db/port.js');
    counter.failWith = new DatabaseUnavailableError(5);
    await expect(publish()).rejects.toBeInstanceOf(DatabaseUnavailableError);
    expect(sent()).toEqual([]);
  });

  it(`above ${MAX_SNAPSHOT_USERS} real users reads the database every run, folding the buffer first`, async () => {
    // Real users straight into the rollup: what that many recorded users leave behind.
    await real.query(
      `INSERT INTO real_users (user_id, first_real_at, last_real_at)
       SELECT md5(n::text)::uuid, t, t FROM generate_series(1, ${MAX_SNAPSHOT_USERS + 1}) AS n,
       LATERAL (SELECT timestamptz '2026-02-28 00:00:00+00' - n * interval '1 second') AS x(t)`,
    );
    await real.query(`UPDATE real_user_count SET users = ${MAX_SNAPSHOT_USERS + 1}`);
    const { ingest, publish, clock, counter, lines } = await service();
    await publish();
    await recordAt(ingest, user(1), '2026-03-01T00:01:00.000Z');
    clock.set('2026-03-01T00:05:00Z');
    const first = counter.queries;
    await publish();
    expect(counter.queries).toBeGreaterThan(first);
    expect(valuesOf(sent()[1]!)).toMatchObject({ MonthlyActiveUsers: MAX_SNAPSHOT_USERS + 2, TotalRealUsers: MAX_SNAPSHOT_USERS + 2 });
    expect(lines.filter((line) => line.includes('"why":"over_bound"'))).toHaveLength(1);
  });
});

describe('ingest into the buffer', () => {
  it('answers 503 with Retry-After when the buffer cannot take the interaction, and records nothing', async () => {
    const { deps, counter } = await service();
    const failing: InteractionBuffer = {
      accept: () => Promise.reject(Object.assign(new Error('throttled'), { name: 'ProvisionedThroughputExceededException' })),
      pending: async () => [],
      markFolded: async () => {},
      forgetUser: async () => 0,
      unmarkUser: async () => 0,
    };
    const ingest = createIngestHandler({ ...deps, accept: acceptIntoBuffer(failing, deps.log) });
    const result = await ingest(post('/metrics/interaction', { user_id: user(1), interaction_type: 'login' }));
    expect(result.statusCode).toBe(503);
    expect(result.headers?.['retry-after']).toBe('2');
    expect(counter.queries).toBe(0);
  });

  it('answers a single interaction and a batch from the buffer alone: recorded, duplicate, counted, as the local server does', async () => {
    const { ingest, counter } = await service({ INTERNAL_EMAIL_DOMAINS: 'sn1ma.example' });
    const login = { event_id: 'login-1', user_id: user(1), interaction_type: 'login' };
    const first = await ingest(post('/metrics/interaction', login));
    expect([first.statusCode, JSON.parse(first.body)]).toEqual([202, { event_id: 'login-1', status: 'recorded', counted: true, reason: null }]);
    const again = await ingest(post('/metrics/interaction', login));
    expect([again.statusCode, JSON.parse(again.body)]).toEqual([200, { event_id: 'login-1', status: 'duplicate', counted: true, reason: null }]);
    const batch = await ingest(
      post('/metrics/interactions', {
        interactions: [
          { event_id: 'team-1', user_id: user(2), interaction_type: 'login' },
          { event_id: 'team-2', user_id: user(2), interaction_type: 'login', context: { email: 'dev@sn1ma.example' } },
          { event_id: 'login-1', user_id: user(1), interaction_type: 'login' },
        ],
      }),
    );
    expect([batch.statusCode, JSON.parse(batch.body)]).toEqual([
      202,
      {
        status: 'recorded',
        recorded: 2,
        duplicates: 1,
        counted: 0,
        results: [
          { event_id: 'team-1', status: 'recorded', counted: false, reason: 'internal_user' },
          { event_id: 'team-2', status: 'recorded', counted: false, reason: 'internal_user' },
          { event_id: 'login-1', status: 'duplicate', counted: true, reason: null },
        ],
      },
    ]);
    expect(counter.queries).toBe(0);
  });
});
