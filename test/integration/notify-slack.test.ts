import { readFileSync } from 'node:fs';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SNSEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SlackWebhookRejectedError } from '../../functions/aws/slack-webhook.js';
import { WEBHOOK_NOT_CONNECTED } from '../../functions/aws/webhook-secret.js';
import { alarmRolesFromEnv } from '../../functions/core/alarm-notification.js';
import type { Database } from '../../functions/db/port.js';
import { createIngestHandler } from '../../functions/handlers/ingest.js';
import { baselineOf } from '../../functions/db/alerts.js';
import { databaseFigures } from '../../functions/handlers/figures.js';
import { awsAlertingDeps, createNotifySlackHandler } from '../../functions/handlers/notify-slack.js';
import { capturingLog, engineUnderTest, post, testClock, testDeps } from '../support/harness.js';
import { databaseAndSlack } from './slack-stand-in.js';
import { SN1MA_TEAM } from '../support/sn1ma.js';

const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:prod-slack-webhook-AbCdEf';
const DASHBOARD = 'https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#dashboards:name=prod-days-since';
const ENV = {
  ...SN1MA_TEAM,
  BASELINE_DATE: '2026-02-01',
  SLACK_WEBHOOK_SECRET_ID: SECRET_ARN,
  DASHBOARD_URL: DASHBOARD,
  ALARM_ROLES: JSON.stringify({ 'prod-warning': 'warning', 'prod-critical': 'critical', 'prod-stale': 'stale' }),
};
const USER = '11111111-1111-4111-8111-111111111111';

const secrets = mockClient(SecretsManagerClient);
// The suites share worker processes (vitest.config.ts, isolate off): later files get the real client back.
afterAll(() => secrets.restore());
const shared = databaseAndSlack();
beforeEach(() => {
  secrets.reset();
  secrets.on(GetSecretValueCommand, { SecretId: SECRET_ARN }).resolves({ SecretString: shared.slack.url });
});

/** A real AWS sample notification, as this stack's alarm `name` changing to `state` at `at`. */
function alarmEvent(fixture: string, name: string, state: string, oldState: string, at: string): SNSEvent {
  const event = JSON.parse(readFileSync(new URL(`../fixtures/${fixture}`, import.meta.url), 'utf8'));
  const message = JSON.parse(event.Records[0].Sns.Message);
  Object.assign(message, { AlarmName: name, NewStateValue: state, OldStateValue: oldState, StateChangeTime: at.replace('Z', '+0000') });
  event.Records[0].Sns.Message = JSON.stringify(message);
  return event;
}

function notifier(now: string, database: Database = shared.db) {
  const clock = testClock(now);
  const { log, lines } = capturingLog();
  const deps = testDeps(database, { now: clock.now, env: ENV, log });
  const notify = createNotifySlackHandler(awsAlertingDeps(deps, ENV, databaseFigures({ ...deps, baseline: baselineOf(deps.db, deps.config) })), alarmRolesFromEnv(ENV));
  const ingest = createIngestHandler(deps);
  return {
    clock,
    lines,
    notify,
    record: async (occurredAt: string) =>
      expect((await ingest(post('/metrics/interaction', { user_id: USER, interaction_type: 'login', occurred_at: occurredAt }))).statusCode).toBe(202),
  };
}

const texts = () => shared.slack.received.map((received) => received.body.text);
const announcements = () => shared.db.query('SELECT state, days, posted, source FROM alert_announcements ORDER BY id');

describe('the Slack notifier', () => {
  it('walks warning -> critical -> healthy, one message per change, in the seed\'s words', async () => {
    const { notify, clock, record } = notifier('2026-02-10T12:00:00Z');
    await record('2026-02-08T12:00:00Z');

    await notify(alarmEvent('sns-alarm-composite.json', 'prod-warning', 'ALARM', 'OK', '2026-02-10T12:00:00Z'));
    expect(texts()).toEqual([
      [
        '🟡 WARNING: Days since last user interaction = 1-7 · SN1MA',
        '→ Users signed up but not actively using',
        '→ Action: Email retention campaign',
        '→ Escalation: Analyze first-run experience',
        'Now: 2.00 days since the last real user interaction',
        'Last real interaction: Sun 8 Feb 2026 14:00 GMT+2',
        'Total real users: 1',
        'Times in Africa/Johannesburg',
        `Dashboard: ${DASHBOARD}`,
      ].join('\n'),
    ]);

    // SNS delivers at least once: the same notification again says nothing new.
    await notify(alarmEvent('sns-alarm-composite.json', 'prod-warning', 'ALARM', 'OK', '2026-02-10T12:00:00Z'));
    expect(shared.slack.received).toHaveLength(1);

    clock.set('2026-02-15T13:05:00Z');
    await notify(alarmEvent('sns-alarm-single-metric.json', 'prod-critical', 'ALARM', 'OK', '2026-02-15T13:05:00Z'));
    // The warning composite goes OK as critical takes over: a hand-over, not a recovery.
    await notify(alarmEvent('sns-alarm-composite.json', 'prod-warning', 'OK', 'ALARM', '2026-02-15T13:05:00Z'));
    expect(texts().slice(1).map((text) => text.split('\n').slice(0, 5))).toEqual([
      [
        '🚨 ALERT: Days since last user interaction = 7+ · SN1MA',
        '→ No real users in 1 week',
        '→ Action: Schedule launch sprint',
        '→ Escalation: Review GTM strategy',
        'Now: 7.05 days since the last real user interaction',
      ],
    ]);

    await record('2026-02-15T13:10:00Z');
    clock.set('2026-02-15T13:12:00Z');
    await notify(alarmEvent('sns-alarm-single-metric.json', 'prod-critical', 'OK', 'ALARM', '2026-02-15T13:12:00Z'));
    expect(texts()[2]!.split('\n').slice(0, 5)).toEqual([
      '🟢 HEALTHY: Days since last user interaction < 1 · SN1MA',
      '→ Real users engaging with SN1MA',
      '→ Action: Continue collecting feedback',
      '→ Escalation: None, stay the course',
      'Now: 0.00 days since the last real user interaction',
    ]);
    expect(shared.slack.received).toHaveLength(3);
    expect(await announcements()).toEqual([
      { state: 'warning', days: 2, posted: true, source: 'alarm:prod-warning' },
      { state: 'critical', days: expect.closeTo(7.0451, 3), posted: true, source: 'alarm:prod-critical' },
      { state: 'healthy', days: expect.closeTo(0.0014, 3), posted: true, source: 'alarm:prod-critical' },
    ]);
    // The URL is the credential: it is in no log line.
    expect(texts().join()).not.toContain('xoxSecretToken123');
    // The secret was read once for the whole run.
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(1);
  });

  it('posts no WARNING when a returning user makes critical clear before the warning threshold does', async () => {
    const { notify, clock, record } = notifier('2026-02-15T13:05:00Z');
    await record('2026-02-08T12:00:00Z');
    await notify(alarmEvent('sns-alarm-single-metric.json', 'prod-critical', 'ALARM', 'OK', '2026-02-15T13:05:00Z'));

    clock.set('2026-02-16T09:05:00Z');
    await record('2026-02-16T09:00:00Z');
    // CloudWatch evaluates the alarms one by one: critical clears first, so the composite sees the threshold
    // still in ALARM and critical not, and notifies ALARM once before the threshold clears too. SNS may deliver
    // the composite's ALARM before or after critical's OK.
    await notify(alarmEvent('sns-alarm-composite.json', 'prod-warning', 'ALARM', 'OK', '2026-02-16T09:05:00Z'));
    await notify(alarmEvent('sns-alarm-single-metric.json', 'prod-critical', 'OK', 'ALARM', '2026-02-16T09:05:00Z'));
    await notify(alarmEvent('sns-alarm-composite.json', 'prod-warning', 'OK', 'ALARM', '2026-02-16T09:10:00Z'));

    expect(texts().map((text) => text.split('\n')[0])).toEqual([
      '🚨 ALERT: Days since last user interaction = 7+ · SN1MA',
      '🟢 HEALTHY: Days since last user interaction < 1 · SN1MA',
    ]);
    expect((await announcements()).map((row) => row.state)).toEqual(['critical', 'healthy']);
  });

  it('says the number is stale and since when, then that it is reported again', async () => {
    const { notify, record, clock } = notifier('2026-02-10T12:00:00Z');
    await record('2026-02-10T11:00:00Z');
    await notify(alarmEvent('sns-alarm-single-metric.json', 'prod-stale', 'ALARM', 'OK', '2026-02-10T12:00:00Z'));
    // The sample alarm watches one 60-second period: no number since a minute before the change.
    expect(texts()[0]!.split('\n').slice(0, 4)).toEqual([
      '⚪ STALE: Days since last user interaction is not being reported · SN1MA',
      '→ No new number since Tue 10 Feb 2026 13:59 GMT+2 (1 minutes)',
      '→ Action: Check the publisher: its logs, its schedule and the database',
      '→ Escalation: Until it reports again, the number on the dashboard is out of date',
    ]);
    clock.set('2026-02-10T12:30:00Z');
    await notify(alarmEvent('sns-alarm-single-metric.json', 'prod-stale', 'OK', 'ALARM', '2026-02-10T12:30:00Z'));
    expect(texts()[1]!.split('\n').slice(0, 5)).toEqual([
      '🟢 HEALTHY: Days since last user interaction < 1 · SN1MA',
      '→ Real users engaging with SN1MA',
      '→ Action: Continue collecting feedback',
      '→ Escalation: None, stay the course',
      '✅ The number is being reported again.',
    ]);
  });

  it('says since when from the stale composite too, which waits for a first number and has no window of its own', async () => {
    const { notify, record } = notifier('2026-02-10T12:00:00Z');
    await record('2026-02-10T11:00:00Z');
    await notify(alarmEvent('sns-alarm-composite.json', 'prod-stale', 'ALARM', 'OK', '2026-02-10T12:00:00Z'));
    // Three 5-minute periods without a number, as the metric alarm under it counts.
    expect(texts()[0]!.split('\n').slice(0, 2)).toEqual([
      '⚪ STALE: Days since last user interaction is not being reported · SN1MA',
      '→ No new number since Tue 10 Feb 2026 13:45 GMT+2 (15 minutes)',
    ]);
  });

  it('says nothing, and reads nothing, when a new stack\'s alarms first go from INSUFFICIENT_DATA to OK', async () => {
    const { notify, lines } = notifier('2026-02-10T12:00:00Z');
    const firstLooks = [
      alarmEvent('sns-alarm-composite.json', 'prod-stale', 'OK', 'INSUFFICIENT_DATA', '2026-02-10T12:00:00Z'),
      alarmEvent('sns-alarm-composite.json', 'prod-warning', 'OK', 'INSUFFICIENT_DATA', '2026-02-10T12:00:00Z'),
      alarmEvent('sns-alarm-single-metric.json', 'prod-notifier-dead-letters', 'OK', 'INSUFFICIENT_DATA', '2026-02-10T12:00:00Z'),
    ];
    // The database is not even asked: a deploy ends without waking Aurora for the alarms' first look.
    const unreachable: Database = {
      query: async () => Promise.reject(new Error('the notifier read the database')),
      transaction: async () => Promise.reject(new Error('the notifier read the database')),
      close: async () => {},
    };
    const silent = notifier('2026-02-10T12:00:00Z', unreachable);
    for (const event of firstLooks) {
      await silent.notify(event);
      await notify(event);
    }
    expect(shared.slack.received).toEqual([]);
    expect(await announcements()).toEqual([]);
    expect(lines.filter((line) => line.includes('first evaluation'))).toHaveLength(3);
    // An OK after an ALARM is still told.
    await notify(alarmEvent('sns-alarm-single-metric.json', 'prod-notifier-dead-letters', 'OK', 'ALARM', '2026-02-10T12:05:00Z'));
    expect(texts()).toHaveLength(1);
  });

  it('passes operations alarms (a metric-math alarm not named in ALARM_ROLES) on as they are', async () => {
    const { notify } = notifier('2026-02-10T12:00:00Z');
    await notify(alarmEvent('sns-alarm-metric-math.json', 'prod-publisher-errors', 'ALARM', 'OK', '2026-02-10T12:00:00Z'));
    expect(texts()[0]!.split('\n')).toEqual([
      '⚠️ OPERATIONS: prod-publisher-errors is in ALARM · SN1MA',
      '→ EXAMPLE',
      '→ Reason: Threshold Crossed: 1 out of the last 1 datapoints [1234.0 (06/03/15 17:43:27)] was greater than the threshold (0.0) (minimum 1 datapoint for OK -> ALARM transition).',
      '→ Since: Tue 10 Feb 2026 14:00 GMT+2',
      'Times in Africa/Johannesburg',
      `Dashboard: ${DASHBOARD}`,
    ]);
    expect(await announcements()).toEqual([]);
  });

  it('ignores a message that is not an alarm (published by hand) without failing', async () => {
    const { notify, lines } = notifier('2026-02-10T12:00:00Z');
    const event = alarmEvent('sns-alarm-single-metric.json', 'prod-critical', 'ALARM', 'OK', '2026-02-10T12:00:00Z');
    event.Records[0]!.Sns.Message = 'testing 1 2 3';
    await notify(event);
    expect(shared.slack.received).toEqual([]);
    expect(lines.some((line) => line.includes('not an alarm notification; ignored'))).toBe(true);
  });

  it('fails the invocation on a revoked webhook, so SNS retries and the message reaches the dead-letter queue', async () => {
    shared.slack.reply({ status: 410, body: 'channel_is_archived' });
    const { notify, lines } = notifier('2026-02-10T12:00:00Z');
    await expect(notify(alarmEvent('sns-alarm-single-metric.json', 'prod-critical', 'ALARM', 'OK', '2026-02-10T12:00:00Z'))).rejects.toBeInstanceOf(
      SlackWebhookRejectedError,
    );
    // Not recorded as told: the retry must try again.
    expect(await announcements()).toEqual([]);
    expect(lines.join()).not.toContain('xoxSecretToken123');

    // Someone makes a new webhook and pastes it into the secret: the same warm Lambda reads it again and delivers.
    secrets.on(GetSecretValueCommand).resolves({ SecretString: `${shared.slack.url}-replacement` });
    await notify(alarmEvent('sns-alarm-single-metric.json', 'prod-critical', 'ALARM', 'OK', '2026-02-10T12:00:00Z'));
    expect(shared.slack.received.map((post) => post.path)).toEqual([shared.slack.secretPath, `${shared.slack.secretPath}-replacement`]);
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  it('while the secret still holds the placeholder, logs that Slack is not connected and succeeds', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: WEBHOOK_NOT_CONNECTED });
    const { notify, lines } = notifier('2026-02-10T12:00:00Z');
    await notify(alarmEvent('sns-alarm-single-metric.json', 'prod-critical', 'ALARM', 'OK', '2026-02-10T12:00:00Z'));
    expect(shared.slack.received).toEqual([]);
    expect(lines.some((line) => line.includes('Slack is not connected'))).toBe(true);
    expect(await announcements()).toEqual([{ state: 'critical', days: expect.any(Number), posted: false, source: 'alarm:prod-critical' }]);
  });

  describe('when the database does not answer', () => {
    let closed: Database;
    beforeAll(async () => {
      closed = await engineUnderTest().open();
      await closed.close();
    });

    it('still raises an alarm, saying the value is not available', async () => {
      const { notify } = notifier('2026-02-10T12:00:00Z', closed);
      await notify(alarmEvent('sns-alarm-single-metric.json', 'prod-critical', 'ALARM', 'OK', '2026-02-10T12:00:00Z'));
      expect(texts()[0]!.split('\n').slice(0, 1).concat(texts()[0]!.split('\n').slice(4))).toEqual([
        '🚨 ALERT: Days since last user interaction = 7+ · SN1MA',
        'Now: not available: the database did not answer',
        'Times in Africa/Johannesburg',
        `Dashboard: ${DASHBOARD}`,
      ]);
    });

    it('still posts an operations alarm: it never waits on the database, which may be what is broken', async () => {
      const { notify } = notifier('2026-02-10T12:00:00Z', closed);
      await notify(alarmEvent('sns-alarm-metric-math.json', 'prod-publisher-errors', 'ALARM', 'OK', '2026-02-10T12:00:00Z'));
      expect(texts().map((text) => text.split('\n')[0])).toEqual(['⚠️ OPERATIONS: prod-publisher-errors is in ALARM · SN1MA']);
    });

    it('fails an OK, which cannot be told without the number it recovered to, so the retry finds the database awake', async () => {
      const { notify } = notifier('2026-02-10T12:00:00Z', closed);
      await expect(notify(alarmEvent('sns-alarm-single-metric.json', 'prod-critical', 'OK', 'ALARM', '2026-02-10T12:00:00Z'))).rejects.toThrow();
      expect(shared.slack.received).toEqual([]);
    });
  });
});
