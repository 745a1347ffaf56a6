import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { SlackWebhookRejectedError } from '../../functions/aws/slack-webhook.js';
import type { SlackPoster } from '../../functions/aws/slack-webhook.js';
import { baselineOf, recordAnnouncement } from '../../functions/db/alerts.js';
import { claimCheckIn } from '../../functions/db/check-ins.js';
import { epochMs, readEpochMs } from '../../functions/db/port.js';
import { createIngestHandler } from '../../functions/handlers/ingest.js';
import { databaseFigures } from '../../functions/handlers/figures.js';
import { awsAlertingDeps } from '../../functions/handlers/notify-slack.js';
import { CheckInInProgressError, CHECK_IN_LEASE_MS, createWeeklyReportHandler } from '../../functions/handlers/weekly-report.js';
import { post, testClock, testDeps } from '../support/harness.js';
import { databaseAndSlack } from './slack-stand-in.js';
import { SN1MA_TEAM } from '../support/sn1ma.js';

const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:prod-slack-webhook-AbCdEf';
const ENV = { ...SN1MA_TEAM, BASELINE_DATE: '2026-02-01', SLACK_WEBHOOK_SECRET_ID: SECRET_ARN, INTERNAL_EMAIL_DOMAINS: 'sn1ma.example' };

const secrets = mockClient(SecretsManagerClient);
// The suites share worker processes (vitest.config.ts, isolate off): later files get the real client back.
afterAll(() => secrets.restore());
const shared = databaseAndSlack();
beforeEach(() => {
  secrets.reset();
  secrets.on(GetSecretValueCommand).resolves({ SecretString: shared.slack.url });
});

function weekly(now: string, slack: (real: SlackPoster) => SlackPoster = (real) => real) {
  const clock = testClock(now);
  const deps = testDeps(shared.db, { now: clock.now, env: ENV });
  const ingest = createIngestHandler(deps);
  const alerting = awsAlertingDeps(deps, ENV, databaseFigures({ ...deps, baseline: baselineOf(deps.db, deps.config) }));
  return {
    clock,
    run: createWeeklyReportHandler({ ...alerting, slack: slack(alerting.slack) }),
    record: async (body: object) => expect((await ingest(post('/metrics/interaction', body))).statusCode).toBe(202),
  };
}

const texts = () => shared.slack.received.map((received) => received.body.text);

describe('the Friday check-in', () => {
  it('posts the week once at Friday 09:00 GMT+2, and next Friday says what changed', async () => {
    const { run, record, clock } = weekly('2026-02-13T07:00:00Z');
    await record({ user_id: '11111111-1111-4111-8111-111111111111', interaction_type: 'signup', occurred_at: '2026-02-03T08:00:00Z' });
    await record({ user_id: '22222222-2222-4222-8222-222222222222', interaction_type: 'signup', occurred_at: '2026-02-10T08:00:00Z' });
    await record({ user_id: '33333333-3333-4333-8333-333333333333', interaction_type: 'coach_call', occurred_at: '2026-02-12T19:00:00Z' });
    await record({
      user_id: 'f0f0f0f0-0000-4000-8000-000000000000',
      interaction_type: 'agent_run',
      occurred_at: '2026-02-13T06:00:00Z',
      context: { email: 'founder@sn1ma.example' },
    });

    expect(await run()).toBe('posted');
    expect(texts()).toEqual([
      [
        '📅 Friday check-in: days since last real user interaction = 0.50 (🟢 HEALTHY) · SN1MA',
        '→ DAU 1 (target 10) · MAU 3 (target 50)',
        '→ New real users this week: 2 (last week: 1)',
        '→ Last excluded interaction: agent_run from an internal user, Fri 13 Feb 2026 08:00 GMT+2',
        '→ Since last Friday: this is the first check-in, nothing to compare yet',
        '→ Alerts since last Friday: none',
        'Now: 0.50 days since the last real user interaction',
        'Last real interaction: Thu 12 Feb 2026 21:00 GMT+2',
        'Total real users: 3',
        'Times in Africa/Johannesburg',
      ].join('\n'),
    ]);

    // The schedule retries, or the local loop looks again: nothing new is posted.
    clock.set('2026-02-13T07:05:00Z');
    expect(await run()).toBe('already_posted');
    expect(shared.slack.received).toHaveLength(1);

    await recordAnnouncement(shared.db, { state: 'warning', at: new Date('2026-02-14T07:00:00Z'), days: 1.5, posted: true, source: 'alarm:prod-warning' });
    clock.set('2026-02-20T07:00:00Z');
    expect(await run()).toBe('posted');
    expect(texts()[1]!.split('\n').slice(0, 6)).toEqual([
      '📅 Friday check-in: days since last real user interaction = 7.50 (🚨 ALERT) · SN1MA',
      '→ DAU 0 (target 10) · MAU 3 (target 50)',
      '→ New real users this week: 0 (last week: 2)',
      '→ Last excluded interaction: agent_run from an internal user, Fri 13 Feb 2026 08:00 GMT+2',
      '→ Since last Friday: days 0.50 → 7.50 · status 🟢 HEALTHY → 🚨 ALERT · DAU 1 → 0 · MAU 3 (unchanged) · total real users 3 (unchanged)',
      '→ Alerts since last Friday: 🟡 WARNING Sat 14 Feb 2026 09:00 GMT+2',
    ]);
    const kept = await shared.db.query(
      `SELECT ${epochMs('slot')} AS slot, status, dau, mau, total_real_users, new_real_users, ${epochMs('posted_at')} AS posted_at FROM weekly_check_ins ORDER BY 1`,
    );
    expect(kept.map((row) => ({ ...row, slot: readEpochMs(row.slot), posted_at: readEpochMs(row.posted_at) }))).toEqual([
      {
        slot: new Date('2026-02-13T07:00:00Z'),
        status: 'active',
        dau: 1,
        mau: 3,
        total_real_users: 3,
        new_real_users: 2,
        posted_at: new Date('2026-02-13T07:00:00Z'),
      },
      {
        slot: new Date('2026-02-20T07:00:00Z'),
        status: 'critical',
        dau: 0,
        mau: 3,
        total_real_users: 3,
        new_real_users: 0,
        posted_at: new Date('2026-02-20T07:00:00Z'),
      },
    ]);
  });

  it('a run fired a moment before 09:00:00 is still this Friday\'s check-in', async () => {
    const { run } = weekly('2026-02-13T06:59:58Z');
    expect(await run()).toBe('posted');
    const slots = await shared.db.query(`SELECT ${epochMs('slot')} AS slot FROM weekly_check_ins`);
    expect(slots.map((row) => readEpochMs(row.slot))).toEqual([new Date('2026-02-13T07:00:00Z')]);
  });

  it('two overlapping runs of the same Friday (Scheduler delivers at least once) post it once', async () => {
    // The first run to reach Slack waits there until the other run has finished or reached Slack too.
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    let atSlack = 0;
    const { run, clock } = weekly('2026-02-13T07:00:00Z', (real) => async (message) => {
      if (++atSlack === 2) open();
      await gate;
      return real(message);
    });

    const results = await Promise.allSettled([run().finally(open), run().finally(open)]);

    expect(results.map((result) => (result.status === 'fulfilled' ? result.value : result.reason.name)).sort()).toEqual([
      'CheckInInProgressError',
      'posted',
    ]);
    expect(shared.slack.received).toHaveLength(1);
    // The loser fails, so Lambda retries it; by then the Friday is posted.
    clock.set('2026-02-13T07:01:00Z');
    expect(await run()).toBe('already_posted');
    expect(shared.slack.received).toHaveLength(1);
  });

  it('a run that died mid-post holds the Friday only for its lease; then the retry posts it', async () => {
    const { run, clock } = weekly('2026-02-13T07:00:00Z');
    const snapshot = { slot: new Date('2026-02-13T07:00:00Z'), days: 12, status: 'critical', dau: 0, wau: 0, mau: 0, totalRealUsers: 0, newRealUsers: 0 } as const;
    expect(await claimCheckIn(shared.db, snapshot, new Date('2026-02-13T07:00:00Z'), CHECK_IN_LEASE_MS)).toBe('claimed');

    clock.set(new Date(Date.parse('2026-02-13T07:00:00Z') + CHECK_IN_LEASE_MS - 1000).toISOString());
    await expect(run()).rejects.toBeInstanceOf(CheckInInProgressError);
    expect(shared.slack.received).toEqual([]);

    clock.set(new Date(Date.parse('2026-02-13T07:00:00Z') + CHECK_IN_LEASE_MS + 1000).toISOString());
    expect(await run()).toBe('posted');
    expect(shared.slack.received).toHaveLength(1);
  });

  it('a failed post leaves the Friday open: the retry posts it, with the figures of the retry', async () => {
    shared.slack.reply({ status: 404, body: 'no_service' });
    const { run, clock } = weekly('2026-02-13T07:00:00Z');
    await expect(run()).rejects.toBeInstanceOf(SlackWebhookRejectedError);
    // The failed run gives its claim back: Lambda's retry a minute later does not wait for the lease to lapse.
    expect(await shared.db.query(`SELECT ${epochMs('posted_at')} AS posted_at, ${epochMs('claimed_at')} AS claimed_at FROM weekly_check_ins`)).toEqual([
      { posted_at: null, claimed_at: null },
    ]);
    clock.set('2026-02-13T08:00:00Z');
    expect(await run()).toBe('posted');
    expect(texts()[1]!.split('\n')[0]).toBe('📅 Friday check-in: days since last real user interaction = 12.33 since the baseline, no real user yet (🚨 ALERT) · SN1MA');
  });
});
