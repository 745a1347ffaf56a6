import { describe, expect, it } from 'vitest';
import { parseAlarmMessage } from '../../functions/core/alarm-notification.js';
import { alertStateFor, CRITICAL_SUSTAIN_DAYS, stateFromAlarm, transition } from '../../functions/core/alerts.js';
import { ConfigError } from '../../functions/core/config.js';
import { DEFAULT_NAMESPACE, figuresOf, namespaceFromEnv, readingOf, type Reading } from '../../functions/core/published-figures.js';
import { alertMessage, mrkdwn, operationsMessage, seedWording, slackMessage, teamTime } from '../../functions/core/slack-messages.js';

// SN1MA's team, in Johannesburg (UTC+2 all year).
const SN1MA = { productName: 'SN1MA', timeZone: 'Africa/Johannesburg' };
const SETTINGS = { warningDays: 1, criticalDays: 7, team: SN1MA };
const DASHBOARD = 'https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#dashboards:name=prod-days-since';
const NOW = new Date('2026-02-15T12:32:15Z');

function reading(overrides: Partial<Reading> = {}): Reading {
  return {
    at: NOW,
    days: 7.31,
    baseline: new Date('2026-02-01T00:00:00Z'),
    lastRealInteractionAt: new Date('2026-02-08T05:05:00Z'),
    totalRealUsers: 5,
    dau: 0,
    wau: 0,
    mau: 5,
    ...overrides,
  };
}

describe('the figures the publisher sends', () => {
  it('are the number and the active users; before the first real user the number is days since the baseline', () => {
    const pulse = { lastRealInteractionAt: null, totalRealUsers: 0, dau: 0, wau: 0, mau: 0 };
    const before = readingOf(pulse, new Date('2026-02-01T00:00:00Z'), new Date('2026-02-08T12:00:00Z'));
    expect(figuresOf(before)).toEqual([
      { name: 'DaysSinceLastRealUserInteraction', value: 7.5, unit: 'None' },
      { name: 'DailyActiveUsers', value: 0, unit: 'Count' },
      { name: 'WeeklyActiveUsers', value: 0, unit: 'Count' },
      { name: 'MonthlyActiveUsers', value: 0, unit: 'Count' },
      { name: 'TotalRealUsers', value: 0, unit: 'Count' },
    ]);
    const after = readingOf({ ...pulse, lastRealInteractionAt: new Date('2026-02-08T06:00:00Z'), totalRealUsers: 1, dau: 1, wau: 1, mau: 1 }, before.baseline, before.at);
    expect(figuresOf(after)[0]!.value).toBe(0.25);
  });

  it('go to SN1MA unless METRIC_NAMESPACE names another namespace', () => {
    expect(namespaceFromEnv({})).toBe(DEFAULT_NAMESPACE);
    expect(DEFAULT_NAMESPACE).toBe('SN1MA');
    expect(namespaceFromEnv({ METRIC_NAMESPACE: 'Acme/Product' })).toBe('Acme/Product');
    expect(() => namespaceFromEnv({ METRIC_NAMESPACE: 'AWS/Lambda' })).toThrow(ConfigError);
    expect(() => namespaceFromEnv({ METRIC_NAMESPACE: 'tab\there' })).toThrow(/^METRIC_NAMESPACE /);
  });
});

describe('alert states', () => {
  it.each([
    [0, 'healthy'],
    [0.999, 'healthy'],
    [1, 'warning'],
    [7, 'warning'],
    [7 + CRITICAL_SUSTAIN_DAYS, 'warning'],
    [7 + CRITICAL_SUSTAIN_DAYS + 0.0001, 'critical'],
  ])('%s days is %s (critical only after an hour above 7, as the alarm counts 12 five-minute periods)', (days, state) => {
    expect(alertStateFor({ days, lastRealInteractionAt: NOW }, SETTINGS)).toBe(state);
  });

  it('before the first real user a quiet number is "no users yet", never healthy; an empty week still alarms', () => {
    expect(alertStateFor({ days: 0.5, lastRealInteractionAt: null }, SETTINGS)).toBe('no_users_yet');
    expect(alertStateFor({ days: 3, lastRealInteractionAt: null }, SETTINGS)).toBe('warning');
    expect(alertStateFor({ days: 8, lastRealInteractionAt: null }, SETTINGS)).toBe('critical');
  });

  it('announces every change, but notes the first look at a quiet number silently', () => {
    expect(transition('healthy', 'healthy')).toBeNull();
    expect(transition(null, 'healthy')).toEqual({ from: null, to: 'healthy', announce: false });
    expect(transition(null, 'no_users_yet')).toEqual({ from: null, to: 'no_users_yet', announce: false });
    expect(transition(null, 'warning')).toEqual({ from: null, to: 'warning', announce: true });
    expect(transition('warning', 'critical')).toEqual({ from: 'warning', to: 'critical', announce: true });
    expect(transition('critical', 'healthy')).toEqual({ from: 'critical', to: 'healthy', announce: true });
    expect(transition('stale', 'no_users_yet')).toEqual({ from: 'stale', to: 'no_users_yet', announce: true });
  });

  it('reads an alarm: ALARM names the state, OK recovers to what the number says now', () => {
    expect(stateFromAlarm('critical', 'ALARM', null)).toBe('critical');
    expect(stateFromAlarm('stale', 'ALARM', 'healthy')).toBe('stale');
    expect(stateFromAlarm('critical', 'OK', 'healthy')).toBe('healthy');
    // The warning composite goes OK when critical takes over: that is not a recovery.
    expect(stateFromAlarm('warning', 'OK', 'critical')).toBe('critical');
    expect(stateFromAlarm('warning', 'OK', null)).toBeNull();
    expect(stateFromAlarm('warning', 'INSUFFICIENT_DATA', 'healthy')).toBeNull();
  });

  it('reads a late ALARM by the number now: a user back after a critical spell is never announced as a warning', () => {
    // The race: number-critical flips to OK before number-warning-threshold does, so the warning composite
    // goes to ALARM for one evaluation while the number is already ~0.
    expect(stateFromAlarm('warning', 'ALARM', 'healthy')).toBeNull();
    expect(stateFromAlarm('warning', 'ALARM', 'no_users_yet')).toBeNull();
    expect(stateFromAlarm('critical', 'ALARM', 'healthy')).toBeNull();
    // The less severe of the alarm and the number: a backdated interaction can leave it yellow.
    expect(stateFromAlarm('critical', 'ALARM', 'warning')).toBe('warning');
    expect(stateFromAlarm('warning', 'ALARM', 'warning')).toBe('warning');
    expect(stateFromAlarm('warning', 'ALARM', 'critical')).toBe('warning');
    expect(stateFromAlarm('critical', 'ALARM', 'critical')).toBe('critical');
    // Without a reading the alarm is all there is; a stale number is about the pipeline, not the band.
    expect(stateFromAlarm('warning', 'ALARM', null)).toBe('warning');
    expect(stateFromAlarm('stale', 'ALARM', 'healthy')).toBe('stale');
  });
});

describe('Slack messages', () => {
  it('carry the seed\'s Alert Rules word for word', () => {
    expect(seedWording('critical', SETTINGS, 'SN1MA')).toEqual({
      headline: '🚨 ALERT: Days since last user interaction = 7+',
      lines: ['→ No real users in 1 week', '→ Action: Schedule launch sprint', '→ Escalation: Review GTM strategy'],
    });
    expect(seedWording('warning', SETTINGS, 'SN1MA')).toEqual({
      headline: '🟡 WARNING: Days since last user interaction = 1-7',
      lines: ['→ Users signed up but not actively using', '→ Action: Email retention campaign', '→ Escalation: Analyze first-run experience'],
    });
    expect(seedWording('healthy', SETTINGS, 'SN1MA')).toEqual({
      headline: '🟢 HEALTHY: Days since last user interaction < 1',
      lines: ['→ Real users engaging with SN1MA', '→ Action: Continue collecting feedback', '→ Escalation: None, stay the course'],
    });
  });

  it('follow configured thresholds and the configured product', () => {
    expect(seedWording('critical', { warningDays: 2, criticalDays: 14 }, null).headline).toBe('🚨 ALERT: Days since last user interaction = 14+');
    expect(seedWording('critical', { warningDays: 2, criticalDays: 14 }, null).lines[0]).toBe('→ No real users in 14 days');
    expect(seedWording('warning', { warningDays: 2, criticalDays: 14 }, null).headline).toBe('🟡 WARNING: Days since last user interaction = 2-14');
    expect(seedWording('healthy', SETTINGS, 'Acme').lines[0]).toBe('→ Real users engaging with Acme');
    expect(seedWording('healthy', SETTINGS, null).lines[0]).toBe('→ Real users engaging with the product');
  });

  it("times are the team's, with the zone's name at that moment", () => {
    expect(teamTime(new Date('2026-02-08T12:32:15Z'), 'Africa/Johannesburg')).toBe('Sun 8 Feb 2026 14:32 GMT+2');
    expect(teamTime(new Date('2026-02-27T22:05:00Z'), 'Africa/Johannesburg')).toBe('Sat 28 Feb 2026 00:05 GMT+2');
    expect(teamTime(new Date('2026-02-08T12:32:15Z'), 'UTC')).toBe('Sun 8 Feb 2026 12:32 UTC');
    expect(teamTime(new Date('2026-03-30T07:00:00Z'), 'Europe/Berlin')).toBe('Mon 30 Mar 2026 09:00 CEST');
    expect(teamTime(new Date('2026-02-08T12:32:15Z'), 'America/St_Johns')).toBe('Sun 8 Feb 2026 09:02 GMT-3:30');
  });

  it('every message names the product and the time zone its times are in', () => {
    const team = { productName: 'Acme Analytics', timeZone: 'America/New_York' };
    const message = alertMessage({ from: 'healthy', to: 'warning' }, { reading: reading({ days: 1.5 }), dashboardUrl: DASHBOARD }, { ...SETTINGS, team }, NOW);
    expect(message.blocks[0]).toEqual({ type: 'header', text: { type: 'plain_text', text: '🟡 WARNING: Days since last user interaction = 1-7 · Acme Analytics', emoji: true } });
    expect(message.text.split('\n').slice(-3)).toEqual(['Total real users: 5', 'Times in America/New_York', `Dashboard: ${DASHBOARD}`]);
    expect(message.text).toContain('Last real interaction: Sun 8 Feb 2026 00:05 GMT-5');
    expect(message.blocks.at(-1)).toEqual({ type: 'context', elements: [{ type: 'mrkdwn', text: `Times in America/New_York · <${DASHBOARD}|Open the dashboard>` }] });
    const unnamed = alertMessage({ from: 'healthy', to: 'warning' }, { reading: reading({ days: 1.5 }), dashboardUrl: null }, { ...SETTINGS, team: { productName: null, timeZone: 'UTC' } }, NOW);
    expect(unnamed.text.split('\n')[0]).toBe('🟡 WARNING: Days since last user interaction = 1-7');
    expect(unnamed.text.split('\n').at(-1)).toBe('Times in UTC');
  });

  it('ALERT: the seed\'s lines, then the value, the last real interaction, total real users and the dashboard', () => {
    const message = alertMessage({ from: 'warning', to: 'critical' }, { reading: reading(), dashboardUrl: DASHBOARD }, SETTINGS, NOW);
    expect(message.text).toBe(
      [
        '🚨 ALERT: Days since last user interaction = 7+ · SN1MA',
        '→ No real users in 1 week',
        '→ Action: Schedule launch sprint',
        '→ Escalation: Review GTM strategy',
        'Now: 7.31 days since the last real user interaction',
        'Last real interaction: Sun 8 Feb 2026 07:05 GMT+2',
        'Total real users: 5',
        'Times in Africa/Johannesburg',
        `Dashboard: ${DASHBOARD}`,
      ].join('\n'),
    );
    expect(message.blocks).toEqual([
      { type: 'header', text: { type: 'plain_text', text: '🚨 ALERT: Days since last user interaction = 7+ · SN1MA', emoji: true } },
      {
        type: 'section',
        text: {
          type: 'plain_text',
          text: '→ No real users in 1 week\n→ Action: Schedule launch sprint\n→ Escalation: Review GTM strategy',
          emoji: true,
        },
      },
      {
        type: 'section',
        fields: [
          { type: 'mrkdwn', text: '*Now*\n7.31 days since the last real user interaction' },
          { type: 'mrkdwn', text: '*Last real interaction*\nSun 8 Feb 2026 07:05 GMT+2' },
          { type: 'mrkdwn', text: '*Total real users*\n5' },
        ],
      },
      { type: 'context', elements: [{ type: 'mrkdwn', text: `Times in Africa/Johannesburg · <${DASHBOARD}|Open the dashboard>` }] },
    ]);
  });

  it('WARNING and HEALTHY: the seed\'s lines and the facts', () => {
    const warning = alertMessage({ from: 'healthy', to: 'warning' }, { reading: reading({ days: 1.5 }), dashboardUrl: null }, SETTINGS, NOW);
    expect(warning.text).toBe(
      [
        '🟡 WARNING: Days since last user interaction = 1-7 · SN1MA',
        '→ Users signed up but not actively using',
        '→ Action: Email retention campaign',
        '→ Escalation: Analyze first-run experience',
        'Now: 1.50 days since the last real user interaction',
        'Last real interaction: Sun 8 Feb 2026 07:05 GMT+2',
        'Total real users: 5',
        'Times in Africa/Johannesburg',
      ].join('\n'),
    );
    const healthy = alertMessage(
      { from: 'critical', to: 'healthy' },
      { reading: reading({ days: 0.01, lastRealInteractionAt: new Date('2026-02-15T12:18:00Z'), totalRealUsers: 6 }), dashboardUrl: DASHBOARD },
      SETTINGS,
      NOW,
    );
    expect(healthy.text.split('\n')).toEqual([
      '🟢 HEALTHY: Days since last user interaction < 1 · SN1MA',
      '→ Real users engaging with SN1MA',
      '→ Action: Continue collecting feedback',
      '→ Escalation: None, stay the course',
      'Now: 0.01 days since the last real user interaction',
      'Last real interaction: Sun 15 Feb 2026 14:18 GMT+2',
      'Total real users: 6',
      'Times in Africa/Johannesburg',
      `Dashboard: ${DASHBOARD}`,
    ]);
  });

  it('before the first real user: days since the baseline, and no last interaction', () => {
    const message = alertMessage(
      { from: 'healthy', to: 'warning' },
      { reading: reading({ days: 2.25, lastRealInteractionAt: null, totalRealUsers: 0 }), dashboardUrl: null },
      SETTINGS,
      NOW,
    );
    expect(message.text.split('\n').slice(4)).toEqual([
      'Now: 2.25 days since the baseline (Sun 1 Feb 2026 02:00 GMT+2), no real user yet',
      'Last real interaction: none yet',
      'Total real users: 0',
      'Times in Africa/Johannesburg',
    ]);
  });

  it('STALE: says the number is not being reported, and since when', () => {
    const message = alertMessage(
      { from: 'healthy', to: 'stale' },
      { reading: null, dashboardUrl: DASHBOARD, lastReportedAt: new Date('2026-02-15T12:15:00Z') },
      SETTINGS,
      NOW,
    );
    expect(message.text).toBe(
      [
        '⚪ STALE: Days since last user interaction is not being reported · SN1MA',
        '→ No new number since Sun 15 Feb 2026 14:15 GMT+2 (17 minutes)',
        '→ Action: Check the publisher: its logs, its schedule and the database',
        '→ Escalation: Until it reports again, the number on the dashboard is out of date',
        'Now: not available: the database did not answer',
        'Times in Africa/Johannesburg',
        `Dashboard: ${DASHBOARD}`,
      ].join('\n'),
    );
  });

  it('after a stale spell, the state it came back to says the number is reported again', () => {
    const message = alertMessage({ from: 'stale', to: 'warning' }, { reading: reading({ days: 2 }), dashboardUrl: null }, SETTINGS, NOW);
    expect(message.text.split('\n').slice(0, 5)).toEqual([
      '🟡 WARNING: Days since last user interaction = 1-7 · SN1MA',
      '→ Users signed up but not actively using',
      '→ Action: Email retention campaign',
      '→ Escalation: Analyze first-run experience',
      '✅ The number is being reported again.',
    ]);
  });

  it('operations alarms say what broke in CloudWatch\'s words', () => {
    const alarm = parseAlarmMessage(
      JSON.stringify({
        AlarmName: 'prod-notifier-dead-letters',
        AlarmDescription: 'Slack alerts that could not be delivered are waiting in the dead-letter queue',
        NewStateValue: 'ALARM',
        OldStateValue: 'OK',
        NewStateReason: 'Threshold Crossed: 1 datapoint [1.0 (15/02/26 12:30:00)] was greater than or equal to the threshold (1.0).',
        StateChangeTime: '2026-02-15T12:31:00.000+0000',
        Trigger: { MetricName: 'ApproximateNumberOfMessagesVisible', Namespace: 'AWS/SQS', Period: 300, EvaluationPeriods: 1 },
      }),
    );
    const footer = { team: SN1MA, dashboardUrl: null };
    expect(operationsMessage(alarm, footer).text).toBe(
      [
        '⚠️ OPERATIONS: prod-notifier-dead-letters is in ALARM · SN1MA',
        '→ Slack alerts that could not be delivered are waiting in the dead-letter queue',
        '→ Reason: Threshold Crossed: 1 datapoint [1.0 (15/02/26 12:30:00)] was greater than or equal to the threshold (1.0).',
        '→ Since: Sun 15 Feb 2026 14:31 GMT+2',
        'Times in Africa/Johannesburg',
      ].join('\n'),
    );
    expect(operationsMessage({ ...alarm, newState: 'OK' }, footer).text.split('\n')[0]).toBe('✅ RESOLVED: prod-notifier-dead-letters is OK · SN1MA');
  });

  it('escapes Slack markup in facts and keeps the plain text as written', () => {
    expect(mrkdwn('a <b> & c')).toBe('a &lt;b&gt; &amp; c');
    const message = slackMessage('head', [], [{ label: 'Who', value: '<!channel> & co' }], { team: { productName: null, timeZone: 'UTC' }, dashboardUrl: null });
    expect(message.text).toBe('head\nWho: <!channel> & co\nTimes in UTC');
    expect(message.blocks[1]).toEqual({ type: 'section', fields: [{ type: 'mrkdwn', text: '*Who*\n&lt;!channel&gt; &amp; co' }] });
  });
});
