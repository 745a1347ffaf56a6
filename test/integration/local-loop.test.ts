import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../functions/core/config.js';
import type { Database } from '../../functions/db/port.js';
import { memorySnapshotStore } from '../../functions/local/snapshot-store.js';
import { createPublisherLoop, loadLoopSettings, localAlertingDeps } from '../../functions/local/loop.js';
import { startLocalService, type LocalService } from '../../functions/local/service.js';
import { freshLocalDatabases, testClock, testDeps } from '../support/harness.js';
import { databaseAndSlack, startSlackStandIn, type SlackStandIn } from './slack-stand-in.js';
import { SN1MA_TEAM } from '../support/sn1ma.js';
import { localServiceEnv } from '../support/engines.js';

const USER = '11111111-1111-4111-8111-111111111111';
// PGlite in a folder of its own, or a fresh PostgreSQL 16 database at DATABASE_URL, by this file's engine.
const freshDatabase = freshLocalDatabases();
const headlines = (slack: SlackStandIn) => slack.received.map((received) => received.body.text.split('\n')[0]);

describe('npm start: the publisher loop posts to Slack (a stand-in on 127.0.0.1)', () => {
  let slack: SlackStandIn;
  let service: LocalService | undefined;
  beforeEach(async () => {
    slack = await startSlackStandIn();
  });
  afterEach(async () => {
    await service?.close();
    await slack.close();
  });

  it('logs each figure, posts each change of state and the Friday check-in, honours Retry-After, and stops', async () => {
    const clock = testClock('2026-02-12T10:00:00Z');
    const printed: string[] = [];
    service = await startLocalService(
      {
        PORT: '0',
        ...(await freshDatabase()),
        ...SN1MA_TEAM,
        BASELINE_DATE: '2026-02-01',
        PUBLISH_INTERVAL_SECONDS: '0.1',
        SLACK_WEBHOOK_URL: slack.url,
        DASHBOARD_URL: 'http://127.0.0.1:9001/',
      },
      { now: clock.now, print: (line) => void printed.push(line) },
    );

    // Eleven days without a real user: an empty week alarms like any other.
    await slack.posts(1);
    expect(slack.received[0]!.body.text.split('\n')).toEqual([
      '🚨 ALERT: Days since last user interaction = 7+ · SN1MA',
      '→ No real users in 1 week',
      '→ Action: Schedule launch sprint',
      '→ Escalation: Review GTM strategy',
      'Now: 11.42 days since the baseline (Sun 1 Feb 2026 02:00 GMT+2), no real user yet',
      'Last real interaction: none yet',
      'Total real users: 0',
      'Times in Africa/Johannesburg',
      'Dashboard: http://127.0.0.1:9001/',
    ]);
    expect(printed).toContain(
      '[publisher] 2026-02-12T10:00:00.000Z 11.42 days since the baseline (critical) · DAU 0 · WAU 0 · MAU 0 · total real users 0',
    );

    // A real user arrives through the API: the next round says HEALTHY.
    const recorded = await fetch(`${service.url}/metrics/interaction`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user_id: USER, interaction_type: 'coach_call', occurred_at: '2026-02-12T09:30:00Z' }),
    });
    expect(recorded.status).toBe(202);
    await slack.posts(2);
    expect(slack.received[1]!.body.text.split('\n').slice(0, 7)).toEqual([
      '🟢 HEALTHY: Days since last user interaction < 1 · SN1MA',
      '→ Real users engaging with SN1MA',
      '→ Action: Continue collecting feedback',
      '→ Escalation: None, stay the course',
      'Now: 0.02 days since the last real user interaction',
      'Last real interaction: Thu 12 Feb 2026 11:30 GMT+2',
      'Total real users: 1',
    ]);

    // Friday 09:00 GMT+2: the check-in, once.
    clock.set('2026-02-13T07:00:00Z');
    await slack.posts(3);
    expect(headlines(slack)[2]).toBe('📅 Friday check-in: days since last real user interaction = 0.90 (🟢 HEALTHY) · SN1MA');

    // A day and a half later Slack is busy: the loop waits what Retry-After says, then posts.
    slack.reply({ status: 429, body: 'rate_limited', headers: { 'retry-after': '1' } });
    clock.set('2026-02-14T07:00:00Z');
    await slack.posts(5);
    expect(headlines(slack).slice(3)).toEqual([
      '🟡 WARNING: Days since last user interaction = 1-7 · SN1MA',
      '🟡 WARNING: Days since last user interaction = 1-7 · SN1MA',
    ]);
    expect(printed.filter((line) => line.startsWith('[slack]'))).toEqual([
      '[slack] Slack did not take the message; retrying {"attempt":1,"status":429,"slackError":"rate_limited","waitMs":1000,"retryAfter":true}',
    ]);

    await service.close();
    service = undefined;
    const after = slack.received.length;
    clock.set('2026-02-20T07:00:00Z');
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(slack.received).toHaveLength(after);
    // No round ever printed the webhook URL.
    expect(printed.join('\n')).not.toContain('xoxSecretToken123');
  });

  it('PUBLISH_INTERVAL_SECONDS=0 turns the loop off', async () => {
    service = await startLocalService(localServiceEnv(await freshDatabase()), { print: () => {} });
    expect(service.loop).toBeNull();
  });
});

describe('the loop, round by round', () => {
  const shared = databaseAndSlack();

  const FIVE_MINUTES = 300_000;

  function loop(env: Record<string, string>, database: Database = shared.db) {
    const clock = testClock('2026-02-10T12:00:00Z');
    const printed: string[] = [];
    const print = (line: string) => void printed.push(line);
    const settings = loadLoopSettings(env);
    const snapshots = memorySnapshotStore();
    const deps = localAlertingDeps(testDeps(database, { now: clock.now, env }), settings, print, snapshots);
    return { clock, printed, deps, snapshots, loop: createPublisherLoop(deps, FIVE_MINUTES, print) };
  }

  it('says the number is stale after three intervals without a reading, then that it is reported again', async () => {
    let broken = false;
    const lost = () => Promise.reject(Object.assign(new Error('connection lost'), { name: 'DatabaseUnavailableError' }));
    // Broken for single statements and transactions alike (the snapshot is read in one transaction).
    const breakable: Database = {
      ...shared.db,
      query: (sql, params) => (broken ? lost() : shared.db.query(sql, params)),
      transaction: (work) => (broken ? lost() : shared.db.transaction(work)),
    };
    const { loop: rounds, clock, printed, snapshots } = loop({ ...SN1MA_TEAM, BASELINE_DATE: '2026-02-08', SLACK_WEBHOOK_URL: shared.slack.url }, breakable);
    expect((await rounds.tick()).announced).toEqual({ from: null, to: 'warning', outcome: 'posted' });

    // Something was recorded, so the snapshot cannot answer, and the database fails.
    snapshots.invalidate();
    broken = true;
    for (const minutes of [5, 10]) {
      clock.set(new Date(Date.parse('2026-02-10T12:00:00Z') + minutes * 60_000).toISOString());
      expect((await rounds.tick()).observed).toBeNull();
    }
    clock.set('2026-02-10T12:15:00Z');
    expect((await rounds.tick()).announced).toEqual({ from: 'warning', to: 'stale', outcome: 'posted' });
    expect(shared.slack.received[1]!.body.text.split('\n').slice(0, 2)).toEqual([
      '⚪ STALE: Days since last user interaction is not being reported · SN1MA',
      '→ No new number since Tue 10 Feb 2026 14:00 GMT+2 (15 minutes)',
    ]);
    expect(printed).toContain('[publisher] could not read the number: DatabaseUnavailableError');
    clock.set('2026-02-10T12:20:00Z');
    expect((await rounds.tick()).announced).toBeNull();

    broken = false;
    clock.set('2026-02-10T12:25:00Z');
    expect((await rounds.tick()).announced).toEqual({ from: 'stale', to: 'warning', outcome: 'posted' });
    expect(shared.slack.received[2]!.body.text).toContain('✅ The number is being reported again.');
    expect(shared.slack.received).toHaveLength(3);
  });

  it('a revoked webhook is reported once, not every round', async () => {
    shared.slack.reply({ status: 403, body: 'invalid_token' });
    const { loop: rounds, printed } = loop({ BASELINE_DATE: '2026-02-08', SLACK_WEBHOOK_URL: shared.slack.url });
    expect((await rounds.tick()).announced).toEqual({ from: null, to: 'warning', outcome: 'rejected' });
    expect((await rounds.tick()).announced).toBeNull();
    expect(shared.slack.received).toHaveLength(1);
    expect(printed.filter((line) => line.startsWith('[alerts]'))).toEqual([
      '[alerts] could not tell Slack about warning: Slack rejected the webhook (403 invalid_token): it was revoked or its channel archived; create a new incoming webhook and store its URL',
    ]);
  });

  it('without SLACK_WEBHOOK_URL, prints the same messages in the terminal', async () => {
    const { loop: rounds, printed } = loop({ BASELINE_DATE: '2026-02-01' });
    expect((await rounds.tick()).announced).toEqual({ from: null, to: 'critical', outcome: 'not_connected' });
    expect(printed.find((line) => line.startsWith('[slack not connected]'))!.split('\n').slice(0, 2)).toEqual([
      '[slack not connected] 🚨 ALERT: Days since last user interaction = 7+',
      '    → No real users in 1 week',
    ]);
    expect(shared.slack.received).toEqual([]);
  });

  it('remembers what Slack was told across restarts: a restarted loop does not repeat it', async () => {
    const env = { BASELINE_DATE: '2026-02-08', SLACK_WEBHOOK_URL: shared.slack.url };
    expect((await loop(env).loop.tick()).announced).toEqual({ from: null, to: 'warning', outcome: 'posted' });
    expect((await loop(env).loop.tick()).announced).toBeNull();
    expect(shared.slack.received).toHaveLength(1);
  });
});

describe('loop settings', () => {
  it.each([
    [{ PUBLISH_INTERVAL_SECONDS: 'often' }, /^PUBLISH_INTERVAL_SECONDS /],
    [{ SLACK_WEBHOOK_URL: 'hooks.slack.com/services/T0/B0/x' }, /^SLACK_WEBHOOK_URL must be the webhook URL/],
    [{ SLACK_WEBHOOK_URL: 'http://hooks.slack.com/services/T0/B0/x' }, /^SLACK_WEBHOOK_URL must be an https:\/\/ URL/],
  ])('name the variable at fault: %j', (env, message) => {
    expect(() => loadLoopSettings(env)).toThrow(ConfigError);
    expect(() => loadLoopSettings(env)).toThrow(message);
  });

  it('default to every 5 minutes, like the AWS schedule', () => {
    expect(loadLoopSettings({})).toEqual({ intervalMs: 300_000, slackWebhookUrl: null, dashboardUrl: null });
  });
});
