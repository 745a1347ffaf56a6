import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { putFigures } from '../../functions/aws/cloudwatch.js';
import { loadConfig } from '../../functions/core/config.js';
import { figuresOf } from '../../functions/core/published-figures.js';
import { MAX_SNAPSHOT_USERS, RECORDING_WINDOW_MS, type SnapshotStore } from '../../functions/core/snapshot.js';
import { readReading } from '../../functions/db/alerts.js';
import { DatabaseUnavailableError, type Database } from '../../functions/db/port.js';
import { createIngestHandler } from '../../functions/handlers/ingest.js';
import { createPublishMetricHandler } from '../../functions/handlers/publish-metric.js';
import { memorySnapshotStore } from '../../functions/local/snapshot-store.js';
import { capturingLog, emptyDatabase, migratedDatabase, post, testClock, testDeps } from '../support/harness.js';

const cloudWatch = mockClient(CloudWatchClient);
// The suites share worker processes (vitest.config.ts, isolate off): later files get the real client back.
afterAll(() => cloudWatch.restore());
const NAMESPACE = 'SN1MA';
const BASELINE_DATE = '2026-02-01';
const START = '2026-03-01T00:00:00Z';
const HOUR = 3_600_000;
const user = (n: number) => `${String(n).padStart(8, '0')}-0000-4000-8000-000000000000`;

let real: Database;
beforeAll(async () => {
  real = await migratedDatabase();
});
afterAll(async () => {
  await real.close();
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
    transaction: (work) => db.transaction(work),
    close: async () => {},
  };
  return { counter, db: wrapped };
}

function service(env: Record<string, string> = {}, snapshots: SnapshotStore = memorySnapshotStore()) {
  const clock = testClock(START);
  const { counter, db } = counted(real);
  const { log, lines } = capturingLog();
  const deps = testDeps(db, { now: clock.now, log, env: { BASELINE_DATE, ...env } });
  const client = new CloudWatchClient({});
  return {
    clock,
    counter,
    lines,
    snapshots,
    ingest: createIngestHandler({ ...deps, snapshots }),
    publish: createPublishMetricHandler({
      ...deps,
      snapshots,
      baseline: async () => new Date(`${BASELINE_DATE}T00:00:00Z`),
      putFigures: (figures, at) => putFigures(client, NAMESPACE, figures, at),
    }),
  };
}

const sent = () => cloudWatch.commandCalls(PutMetricDataCommand).map((call) => call.args[0].input);
const valuesOf = (input: ReturnType<typeof sent>[number]) => Object.fromEntries(input.MetricData!.map((datum) => [datum.MetricName, datum.Value]));

async function recordAt(ingest: ReturnType<typeof service>['ingest'], userId: string, occurredAt: string, context: object = {}) {
  const result = await ingest(post('/metrics/interaction', { user_id: userId, interaction_type: 'coach_call', occurred_at: occurredAt, context }));
  expect(result.statusCode).toBe(202);
}

describe('the publisher over a snapshot', () => {
  it('24 simulated hours without ingest: 288 PutMetricData calls with the right values, and no database call after the first refresh', async () => {
    const { ingest, publish, clock, counter } = service();
    // Recorded ten minutes before the day starts, so the first refresh is past their recording window.
    clock.set('2026-02-28T23:50:00Z');
    // Last real times chosen so that each window loses someone during the day.
    await recordAt(ingest, user(1), '2026-02-28T23:00:00.000Z'); // leaves DAU at 23:00
    await recordAt(ingest, user(2), '2026-02-28T01:00:00.000Z'); // leaves DAU at 01:00
    await recordAt(ingest, user(3), '2026-02-22T06:00:00.000Z'); // leaves WAU at 06:00
    await recordAt(ingest, user(4), '2026-01-30T12:00:00.000Z'); // leaves MAU at 12:00
    await recordAt(ingest, user(5), '2026-01-10T00:00:00.000Z'); // counts only in the total

    clock.set(START);
    await publish();
    const afterFirstRefresh = counter.queries;
    expect(afterFirstRefresh).toBeGreaterThan(0);
    for (let run = 1; run < 288; run += 1) {
      clock.set(new Date(Date.parse(START) + run * 300_000).toISOString());
      await publish();
    }
    expect(counter.queries).toBe(afterFirstRefresh);

    // Each of the 288 carries exactly what the database would have said at its instant.
    const calls = sent();
    expect(calls).toHaveLength(288);
    for (const [run, input] of calls.entries()) {
      const at = new Date(Date.parse(START) + run * 300_000);
      const truth = await readReading(real, loadConfig({ BASELINE_DATE }), async () => new Date(BASELINE_DATE), at);
      expect(input).toEqual({
        Namespace: NAMESPACE,
        MetricData: figuresOf(truth).map((figure) => ({ MetricName: figure.name, Value: figure.value, Unit: figure.unit, Timestamp: at })),
      });
    }
    // And by hand, at a few instants: days grow by 5 minutes a run, users age out of their windows.
    const at = (time: string) => valuesOf(calls[(Date.parse(`2026-03-01T${time}Z`) - Date.parse(START)) / 300_000]!);
    expect(at('00:00:00')).toEqual({
      DaysSinceLastRealUserInteraction: 1 / 24,
      DailyActiveUsers: 2,
      WeeklyActiveUsers: 3,
      MonthlyActiveUsers: 4,
      TotalRealUsers: 5,
    });
    expect(at('00:55:00')).toMatchObject({ DailyActiveUsers: 2, WeeklyActiveUsers: 3, MonthlyActiveUsers: 4 });
    expect(at('01:00:00')).toMatchObject({ DailyActiveUsers: 1, WeeklyActiveUsers: 3, MonthlyActiveUsers: 4 });
    expect(at('06:00:00')).toMatchObject({ DailyActiveUsers: 1, WeeklyActiveUsers: 2, MonthlyActiveUsers: 4 });
    expect(at('12:00:00')).toMatchObject({ DailyActiveUsers: 1, WeeklyActiveUsers: 2, MonthlyActiveUsers: 3, TotalRealUsers: 5 });
    expect(at('23:00:00')).toMatchObject({ DailyActiveUsers: 0, WeeklyActiveUsers: 2, MonthlyActiveUsers: 3 });
    expect(at('23:55:00')).toEqual({
      DaysSinceLastRealUserInteraction: (HOUR + 23 * HOUR + 55 * 60_000) / 86_400_000,
      DailyActiveUsers: 0,
      WeeklyActiveUsers: 2,
      MonthlyActiveUsers: 3,
      TotalRealUsers: 5,
    });
  });

  it('an ingest marks the snapshot stale before recording: the next publish reads the database and includes it', async () => {
    const { ingest, publish, clock, counter, snapshots } = service();
    clock.set('2026-02-28T23:50:00Z');
    await recordAt(ingest, user(1), '2026-02-27T00:00:00.000Z');
    clock.set(START);
    await publish();
    clock.set('2026-03-01T00:10:00Z');
    const before = counter.queries;
    await publish();
    expect(counter.queries).toBe(before);

    await recordAt(ingest, user(2), '2026-03-01T00:09:00.000Z');
    expect((await snapshots.read()).writes).toBe(2);
    clock.set('2026-03-01T00:15:00Z');
    const beforeRefresh = counter.queries;
    await publish();
    expect(counter.queries).toBeGreaterThan(beforeRefresh);
    expect(valuesOf(sent()[2]!)).toEqual({
      DaysSinceLastRealUserInteraction: 6 / 1440,
      DailyActiveUsers: 1,
      WeeklyActiveUsers: 2,
      MonthlyActiveUsers: 2,
      TotalRealUsers: 2,
    });
    // Taken more than the recording window after the mark: trusted from now on.
    clock.set('2026-03-01T00:20:00Z');
    const afterRefresh = counter.queries;
    await publish();
    expect(counter.queries).toBe(afterRefresh);
  });

  it('a snapshot taken while a marked recording may still commit is refreshed again once that window has passed', async () => {
    const { publish, clock, counter, snapshots } = service();
    await snapshots.markStale(new Date(Date.parse(START) + RECORDING_WINDOW_MS));
    await publish();
    clock.set('2026-03-01T00:01:00Z');
    const first = counter.queries;
    await publish();
    expect(counter.queries).toBeGreaterThan(first);
    clock.set('2026-03-01T00:05:00Z');
    const second = counter.queries;
    await publish();
    expect(counter.queries).toBeGreaterThan(second);
    clock.set('2026-03-01T00:10:00Z');
    const third = counter.queries;
    await publish();
    expect(counter.queries).toBe(third);
  });

  it('a deploy that changes what counts refreshes the snapshot: an internal user leaves the number at once', async () => {
    const snapshots = memorySnapshotStore();
    const before = service({}, snapshots);
    await recordAt(before.ingest, user(1), '2026-02-28T12:00:00.000Z');
    await recordAt(before.ingest, user(2), '2026-02-28T18:00:00.000Z');
    await before.publish();
    expect(valuesOf(sent()[0]!)).toMatchObject({ DailyActiveUsers: 2, TotalRealUsers: 2 });

    const after = service({ INTERNAL_USER_IDS: user(2) }, snapshots);
    after.clock.set('2026-03-01T00:05:00Z');
    await after.publish();
    expect(after.counter.queries).toBeGreaterThan(0);
    expect(valuesOf(sent()[1]!)).toEqual({
      DaysSinceLastRealUserInteraction: (12 * HOUR + 5 * 60_000) / 86_400_000,
      DailyActiveUsers: 1,
      WeeklyActiveUsers: 1,
      MonthlyActiveUsers: 1,
      TotalRealUsers: 1,
    });
  });

  it('while the database cannot answer, keeps publishing the last snapshot, aged to now, and says so; refreshes once it answers', async () => {
    const { ingest, publish, clock, counter, lines } = service();
    await recordAt(ingest, user(1), '2026-02-28T12:00:00.000Z');
    await publish();
    await recordAt(ingest, user(2), '2026-02-28T13:00:00.000Z');
    counter.failWith = new DatabaseUnavailableError(5);
    clock.set('2026-03-01T12:30:00Z');
    await publish();
    // The last snapshot's figures at 12:30: user 1 has left DAU; user 2 is not in it yet.
    expect(valuesOf(sent()[1]!)).toEqual({
      DaysSinceLastRealUserInteraction: (24.5 * HOUR) / 86_400_000,
      DailyActiveUsers: 0,
      WeeklyActiveUsers: 1,
      MonthlyActiveUsers: 1,
      TotalRealUsers: 1,
    });
    expect(lines.some((line) => line.includes('published from the last snapshot: the database did not answer'))).toBe(true);

    counter.failWith = null;
    clock.set('2026-03-01T12:35:00Z');
    await publish();
    expect(valuesOf(sent()[2]!)).toMatchObject({ DailyActiveUsers: 1, WeeklyActiveUsers: 2, TotalRealUsers: 2 });
  });

  it('with no snapshot to fall back on, or another error than an unavailable database, the run fails (the publisher alarm counts it)', async () => {
    const unavailable = service();
    unavailable.counter.failWith = new DatabaseUnavailableError(5);
    await expect(unavailable.publish()).rejects.toBeInstanceOf(DatabaseUnavailableError);

    const broken = service();
    await broken.publish();
    await broken.snapshots.markStale(new Date(START));
    broken.counter.failWith = Object.assign(new Error('syntax error'), { code: '42601' });
    broken.clock.set('2026-03-01T00:05:00Z');
    await expect(broken.publish()).rejects.toThrow('syntax error');
    expect(sent()).toHaveLength(1);
  });

  it(`above ${MAX_SNAPSHOT_USERS} monthly active users reads the database every run, and says so`, async () => {
    // Real users straight into the rollup: what 50,001 recorded users leave behind.
    await real.query(
      `INSERT INTO real_users (user_id, first_real_at, last_real_at)
       SELECT md5(n::text)::uuid, t, t FROM generate_series(1, ${MAX_SNAPSHOT_USERS + 1}) AS n,
       LATERAL (SELECT timestamptz '2026-02-28 00:00:00+00' - n * interval '1 second') AS x(t)`,
    );
    await real.query(`UPDATE real_user_count SET users = ${MAX_SNAPSHOT_USERS + 1}`);
    const { publish, clock, counter, lines } = service();
    await publish();
    clock.set('2026-03-01T00:05:00Z');
    const first = counter.queries;
    await publish();
    expect(counter.queries).toBeGreaterThan(first);
    expect(valuesOf(sent()[1]!)).toMatchObject({ MonthlyActiveUsers: MAX_SNAPSHOT_USERS + 1, TotalRealUsers: MAX_SNAPSHOT_USERS + 1 });
    expect(lines.filter((line) => line.includes('more monthly active users than a snapshot keeps'))).toHaveLength(2);
  });
});

describe('ingest and the stale mark', () => {
  it('marks before recording; when the mark fails, answers 503 with Retry-After and records nothing', async () => {
    const failing: SnapshotStore = {
      ...memorySnapshotStore(),
      markStale: () => Promise.reject(Object.assign(new Error('throttled'), { name: 'ProvisionedThroughputExceededException' })),
    };
    const { ingest, counter } = service({}, failing);
    const result = await ingest(post('/metrics/interaction', { user_id: user(1), interaction_type: 'login' }));
    expect(result.statusCode).toBe(503);
    expect(result.headers?.['retry-after']).toBe('5');
    expect(counter.queries).toBe(0);
    expect(await real.query('SELECT count(*)::int AS n FROM interactions')).toEqual([{ n: 0 }]);
  });

  it('is marked once per request, batch or single', async () => {
    const { ingest, snapshots } = service();
    await ingest(post('/metrics/interactions', { interactions: [1, 2, 3].map((n) => ({ user_id: user(n), interaction_type: 'login' })) }));
    await ingest(post('/metrics/interaction', { user_id: user(4), interaction_type: 'login' }));
    const state = await snapshots.read();
    expect(state.writes).toBe(2);
    expect(state.dirtyUntil).toEqual(new Date(Date.parse(START) + RECORDING_WINDOW_MS));
  });
});
