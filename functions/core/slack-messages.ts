import type { AlarmNotification } from './alarm-notification.js';
import type { AlertSettings, AlertState } from './alerts.js';
import type { TeamSettings } from './config.js';
import type { Reading } from './published-figures.js';

/** A Slack Block Kit block; only the few kinds used here. */
export type SlackBlock =
  | { type: 'header'; text: { type: 'plain_text'; text: string; emoji: true } }
  | { type: 'section'; text: { type: 'plain_text'; text: string; emoji: true } }
  | { type: 'section'; fields: Array<{ type: 'mrkdwn'; text: string }> }
  | { type: 'context'; elements: Array<{ type: 'mrkdwn'; text: string }> };

/** What an incoming webhook takes: blocks for Slack clients, `text` for notifications and anything without Block Kit. */
export interface SlackMessage {
  text: string;
  blocks: SlackBlock[];
}

/** Who a message is about and where the team reads it: PRODUCT_NAME and TEAM_TIME_ZONE. */
export type MessageTeam = Pick<TeamSettings, 'productName' | 'timeZone'>;

// One formatter per time zone, made on first use: a Lambda formats in one zone all its life.
const formatters = new Map<string, Intl.DateTimeFormat>();
function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let format = formatters.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-GB', {
      timeZone,
      weekday: 'short',
      day: 'numeric',
      month: 'short',
      year: 'numeric',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
      timeZoneName: 'short',
    });
    formatters.set(timeZone, format);
  }
  return format;
}

/** A moment in the team's time zone, with the zone as that moment had it: `Sun 8 Feb 2026 14:32 GMT+2`, `Mon 30 Mar 2026 09:00 CEST`. */
export function teamTime(date: Date, timeZone: string): string {
  const part = Object.fromEntries(formatterFor(timeZone).formatToParts(date).map((p) => [p.type, p.value]));
  return `${part.weekday} ${part.day} ${part.month} ${part.year} ${part.hour}:${part.minute} ${part.timeZoneName}`;
}

export const days = (value: number): string => `${value.toFixed(2)} days`;

/** Slack's mrkdwn treats these three as markup. */
export const mrkdwn = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

const limit = (text: string, max: number) => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);

export interface Fact {
  label: string;
  value: string;
}

/** What closes every message: which product (in the headline), the time zone its times are in, the dashboard. */
export interface MessageFooter {
  team: MessageTeam;
  dashboardUrl: string | null;
}

/**
 * One message, written once: the plain text is exactly the lines the blocks show. The product's name ends the headline, so
 * a team with two products tells them apart in a notification; the last line names the time zone of every time shown.
 */
export function slackMessage(headline: string, lines: readonly string[], facts: readonly Fact[], footer: MessageFooter): SlackMessage {
  const { team, dashboardUrl } = footer;
  const title = team.productName ? `${headline} · ${team.productName}` : headline;
  const zone = `Times in ${team.timeZone}`;
  const text = [
    title,
    ...lines,
    ...facts.map((fact) => `${fact.label}: ${fact.value}`),
    zone,
    ...(dashboardUrl ? [`Dashboard: ${dashboardUrl}`] : []),
  ].join('\n');
  const blocks: SlackBlock[] = [{ type: 'header', text: { type: 'plain_text', text: limit(title, 150), emoji: true } }];
  if (lines.length > 0) blocks.push({ type: 'section', text: { type: 'plain_text', text: limit(lines.join('\n'), 3000), emoji: true } });
  if (facts.length > 0) {
    blocks.push({
      type: 'section',
      fields: facts.slice(0, 10).map((fact) => ({ type: 'mrkdwn', text: limit(`*${mrkdwn(fact.label)}*\n${mrkdwn(fact.value)}`, 2000) })),
    });
  }
  const context = dashboardUrl ? `${mrkdwn(zone)} · <${mrkdwn(dashboardUrl)}|Open the dashboard>` : mrkdwn(zone);
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: context }] });
  return { text, blocks };
}

const threshold = (value: number) => String(value);

/** The seed's "Alert Rules", word for word, with the thresholds from the configuration and the product's name (PRODUCT_NAME). */
export function seedWording(
  state: 'healthy' | 'warning' | 'critical',
  settings: AlertSettings,
  productName: string | null,
): { headline: string; lines: string[] } {
  const warning = threshold(settings.warningDays);
  const critical = threshold(settings.criticalDays);
  switch (state) {
    case 'critical':
      return {
        headline: `🚨 ALERT: Days since last user interaction = ${critical}+`,
        lines: [
          `→ No real users in ${settings.criticalDays === 7 ? '1 week' : `${critical} days`}`,
          '→ Action: Schedule launch sprint',
          '→ Escalation: Review GTM strategy',
        ],
      };
    case 'warning':
      return {
        headline: `🟡 WARNING: Days since last user interaction = ${warning}-${critical}`,
        lines: ['→ Users signed up but not actively using', '→ Action: Email retention campaign', '→ Escalation: Analyze first-run experience'],
      };
    case 'healthy':
      return {
        headline: `🟢 HEALTHY: Days since last user interaction < ${warning}`,
        lines: [`→ Real users engaging with ${productName ?? 'the product'}`, '→ Action: Continue collecting feedback', '→ Escalation: None, stay the course'],
      };
  }
}

export interface AlertFacts {
  /** The number as read now; null when the database did not answer. */
  reading: Reading | null;
  dashboardUrl: string | null;
  /** For a stale message: when the last number was reported. */
  lastReportedAt?: Date | null;
}

/** Current value, last real interaction, total real users: the lines every alert carries under the seed's wording. */
export function readingFacts(reading: Reading | null, timeZone: string): Fact[] {
  if (reading === null) return [{ label: 'Now', value: 'not available: the database did not answer' }];
  const noUsers = reading.lastRealInteractionAt === null;
  return [
    {
      label: 'Now',
      value: noUsers
        ? `${days(reading.days)} since the baseline (${teamTime(reading.baseline, timeZone)}), no real user yet`
        : `${days(reading.days)} since the last real user interaction`,
    },
    { label: 'Last real interaction', value: noUsers ? 'none yet' : teamTime(reading.lastRealInteractionAt!, timeZone) },
    { label: 'Total real users', value: String(reading.totalRealUsers) },
  ];
}

function staleWording(lastReportedAt: Date | null | undefined, now: Date, timeZone: string): { headline: string; lines: string[] } {
  const since =
    lastReportedAt == null
      ? '→ No new number has been reported'
      : `→ No new number since ${teamTime(lastReportedAt, timeZone)} (${Math.max(1, Math.round((now.getTime() - lastReportedAt.getTime()) / 60_000))} minutes)`;
  return {
    headline: '⚪ STALE: Days since last user interaction is not being reported',
    lines: [
      since,
      '→ Action: Check the publisher: its logs, its schedule and the database',
      '→ Escalation: Until it reports again, the number on the dashboard is out of date',
    ],
  };
}

/** The message for a change of state: the seed's wording for the three bands, and the two states the seed did not name. */
export function alertMessage(
  change: { from: AlertState | null; to: AlertState },
  facts: AlertFacts,
  settings: AlertSettings & { team: MessageTeam },
  now: Date,
): SlackMessage {
  const { team } = settings;
  const { headline, lines } =
    change.to === 'stale'
      ? staleWording(facts.lastReportedAt, now, team.timeZone)
      : change.to === 'no_users_yet'
        ? {
            headline: `⚪ NO USERS YET: Days since the baseline < ${threshold(settings.warningDays)}`,
            lines: ['→ No real user has interacted yet', '→ Action: Get the first real user in', '→ Escalation: None yet, the count has just started'],
          }
        : seedWording(change.to, settings, team.productName);
  const back = change.from === 'stale' && change.to !== 'stale' ? ['✅ The number is being reported again.'] : [];
  return slackMessage(headline, [...lines, ...back], readingFacts(facts.reading, team.timeZone), { team, dashboardUrl: facts.dashboardUrl });
}

/** Alarms about the machinery (publisher errors, dead letters): what broke, in CloudWatch's words. */
export function operationsMessage(alarm: AlarmNotification, footer: MessageFooter): SlackMessage {
  const firing = alarm.newState === 'ALARM';
  const headline = firing ? `⚠️ OPERATIONS: ${alarm.alarmName} is in ALARM` : `✅ RESOLVED: ${alarm.alarmName} is ${alarm.newState}`;
  const lines = [
    ...(alarm.description ? [`→ ${limit(alarm.description, 500)}`] : []),
    ...(alarm.reason ? [`→ Reason: ${limit(alarm.reason, 500)}`] : []),
    `→ Since: ${teamTime(alarm.changedAt, footer.team.timeZone)}`,
  ];
  return slackMessage(headline, lines, [], footer);
}
