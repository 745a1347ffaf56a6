import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { putFigures } from '../../functions/aws/cloudwatch.js';
import { namespaceFromEnv } from '../../functions/core/published-figures.js';
import { baselineOf } from '../../functions/db/alerts.js';
import type { Database } from '../../functions/db/port.js';
import { createIngestHandler, recordAtOnce } from '../../functions/handlers/ingest.js';
import { createPublishMetricHandler } from '../../functions/handlers/publish-metric.js';
import { localFigures } from '../../functions/local/loop.js';
import { memorySnapshotStore } from '../../functions/local/snapshot-store.js';
import { capturingLog, emptyDatabase, migratedDatabase, post, testClock, testDeps } from '../support/harness.js';

const cloudWatch = mockClient(CloudWatchClient);
// The suites share worker processes (vitest.config.ts, isolate off): later files get the real client back.
afterAll(() => cloudWatch.restore());
let db: Database;
beforeAll(async () => {
  db = await migratedDatabase();
  // A known install date: the baseline when BASELINE_DATE is not set.
  await db.query("UPDATE schema_migrations SET applied_at = '2026-02-01T00:00:00Z'");
});
afterAll(async () => {
  await db.close();
});
beforeEach(async () => {
  await emptyDatabase(db);
  cloudWatch.reset();
  cloudWatch.on(PutMetricDataCommand).resolves({});
});
afterEach(() => cloudWatch.reset());

function publisher(now: string, env: Record<string, string> = {}) {
  const clock = testClock(now);
  const { log, lines } = capturingLog();
  const deps = testDeps(db, { now: clock.now, env, log });
  const namespace = namespaceFromEnv(env);
  const client = new CloudWatchClient({});
  // As `npm start` wires it: ingest records at once and invalidates the snapshot the publisher reads.
  const snapshots = memorySnapshotStore();
  return {
    clock,
    lines,
    ingest: createIngestHandler({ ...deps, accept: recordAtOnce(deps, () => snapshots.invalidate()) }),
    publish: createPublishMetricHandler({
      ...deps,
      figures: localFigures(deps, snapshots, baselineOf(db, deps.config)),
      putFigures: (figures, at) => putFigures(client, namespace, figures, at),
    }),
  };
}

const sent = () => cloudWatch.commandCalls(PutMetricDataCommand).map((call) => call.args[0].input);

describe('the publisher', () => {
  it('sends all five figures and the buffer age in ONE PutMetricData call; before the first user, days since BASELINE_DATE', async () => {
    const { publish } = publisher('2026-02-08T12:00:00Z', { BASELINE_DATE: '2026-02-01' });
    await publish();
    const at = new Date('2026-02-08T12:00:00Z');
    expect(sent()).toEqual([
      {
        Namespace: 'SN1MA',
        MetricData: [
          { MetricName: 'DaysSinceLastRealUserInteraction', Value: 7.5, Unit: 'None', Timestamp: at },
          { MetricName: 'DailyActiveUsers', Value: 0, Unit: 'Count', Timestamp: at },
          { MetricName: 'WeeklyActiveUsers', Value: 0, Unit: 'Count', Timestamp: at },
          { MetricName: 'MonthlyActiveUsers', Value: 0, Unit: 'Count', Timestamp: at },
          { MetricName: 'TotalRealUsers', Value: 0, Unit: 'Count', Timestamp: at },
          // Nothing is buffered locally: recorded at once.
          { MetricName: 'OldestBufferedInteractionAge', Value: 0, Unit: 'Seconds', Timestamp: at },
        ],
      },
    ]);
  });

  it('without BASELINE_DATE counts from the install date', async () => {
    const { publish } = publisher('2026-02-03T06:00:00Z');
    await publish();
    expect(sent()[0]!.MetricData![0]).toEqual({
      MetricName: 'DaysSinceLastRealUserInteraction',
      Value: 2.25,
      Unit: 'None',
      Timestamp: new Date('2026-02-03T06:00:00Z'),
    });
  });

  it('after real users: days since the last real interaction, active users, total; internal users never count', async () => {
    const env = { BASELINE_DATE: '2026-02-01', INTERNAL_EMAIL_DOMAINS: 'sn1ma.example' };
    const { publish, ingest, clock } = publisher('2026-02-10T12:00:00Z', env);
    const record = async (body: object) => expect((await ingest(post('/metrics/interaction', body))).statusCode).toBe(202);
    await record({ user_id: '11111111-1111-4111-8111-111111111111', interaction_type: 'signup', occurred_at: '2026-02-01T09:00:00Z' });
    await record({ user_id: '22222222-2222-4222-8222-222222222222', interaction_type: 'coach_call', occurred_at: '2026-02-10T06:00:00Z' });
    await record({
      user_id: 'f0f0f0f0-0000-4000-8000-000000000000',
      interaction_type: 'login',
      occurred_at: '2026-02-10T11:59:00Z',
      context: { email: 'founder@sn1ma.example' },
    });
    await publish();
    expect(sent()[0]!.MetricData!.map((datum) => [datum.MetricName, datum.Value])).toEqual([
      ['DaysSinceLastRealUserInteraction', 0.25],
      ['DailyActiveUsers', 1],
      ['WeeklyActiveUsers', 1],
      ['MonthlyActiveUsers', 2],
      ['TotalRealUsers', 2],
      ['OldestBufferedInteractionAge', 0],
    ]);
    clock.advanceDays(1);
    await publish();
    expect(sent()[1]!.MetricData![0]!.Value).toBe(1.25);
  });

  it('publishes to the namespace METRIC_NAMESPACE names', async () => {
    const { publish } = publisher('2026-02-08T12:00:00Z', { BASELINE_DATE: '2026-02-01', METRIC_NAMESPACE: 'Acme/DaysSince' });
    await publish();
    expect(sent()[0]!.Namespace).toBe('Acme/DaysSince');
  });

  it('fails the run when CloudWatch refuses, so the publisher-errors alarm counts it', async () => {
    cloudWatch.on(PutMetricDataCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    const { publish } = publisher('2026-02-08T12:00:00Z', { BASELINE_DATE: '2026-02-01' });
    await expect(publish()).rejects.toThrow('Rate exceeded');
  });

  it('logs each figure it sent, and why it took a snapshot', async () => {
    const { publish, lines } = publisher('2026-02-08T12:00:00Z', { BASELINE_DATE: '2026-02-01' });
    await publish();
    expect(lines.map((line) => JSON.parse(line))).toEqual([
      { level: 'info', message: 'folding the buffer before reading', extra: [{ why: 'missing', waiting: 0 }] },
      {
        level: 'info',
        message: 'published',
        extra: [
          {
            figures: {
              DaysSinceLastRealUserInteraction: 7.5,
              DailyActiveUsers: 0,
              WeeklyActiveUsers: 0,
              MonthlyActiveUsers: 0,
              TotalRealUsers: 0,
              OldestBufferedInteractionAge: 0,
            },
            waiting: 0,
          },
        ],
      },
    ]);
  });
});
