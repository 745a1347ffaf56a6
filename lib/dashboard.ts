import { Aws, Duration } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { TeamSettings } from '../functions/core/config.js';
import { FIGURE_NAMES } from '../functions/core/published-figures.js';
import { dayName } from '../functions/core/weekly-report.js';

/** The seed's colours: yellow from 1 day, red from 7. */
export const WARNING_COLOR = '#f2c200';
export const CRITICAL_COLOR = cloudwatch.Color.RED;
export const TARGET_COLOR = cloudwatch.Color.GREEN;

/** The console address of a dashboard in the stack's region: what Slack messages link to. */
export function dashboardUrl(dashboardName: string): string {
  return `https://${Aws.REGION}.console.aws.amazon.com/cloudwatch/home?region=${Aws.REGION}#dashboards:name=${dashboardName}`;
}

export interface AlertingDashboardProps {
  dashboardName: string;
  namespace: string;
  warningDays: number;
  criticalDays: number;
  dauTarget: number;
  mauTarget: number;
  /** Named at the top: which product this is, and the team's time zone. */
  team: TeamSettings;
  alarms: cloudwatch.IAlarm[];
  api?: apigw.RestApi | undefined;
  /** Every function, by the name the graphs label it with. */
  functions: Readonly<Record<string, IFunction>>;
  publisher: IFunction;
  queues: Readonly<Record<string, sqs.IQueue>>;
}

const FIVE_MINUTES = Duration.minutes(5);

const daysText = (days: number) => `${days} ${days === 1 ? 'day' : 'days'}`;

/**
 * The number where the team looks: as a single value with its sparkline, as a graph against the yellow and
 * red lines, DAU and MAU against their targets, the alarms, and an operations row for when it looks wrong.
 */
export class AlertingDashboard extends Construct {
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: AlertingDashboardProps) {
    super(scope, id);
    const figure = (metricName: string, label: string, statistic: string = cloudwatch.Stats.MAXIMUM) =>
      new cloudwatch.Metric({ namespace: props.namespace, metricName, label, statistic, period: FIVE_MINUTES });
    const days = figure(FIGURE_NAMES.days, 'Days since last real user interaction');
    const dau = figure(FIGURE_NAMES.dau, 'DAU');
    const wau = figure(FIGURE_NAMES.wau, 'WAU');
    const mau = figure(FIGURE_NAMES.mau, 'MAU');
    const total = figure(FIGURE_NAMES.totalRealUsers, 'Total real users');
    const perFunction = (metric: (fn: IFunction) => cloudwatch.Metric) =>
      Object.entries(props.functions).map(([name, fn]) => metric(fn).with({ label: name, period: FIVE_MINUTES, statistic: cloudwatch.Stats.SUM }));
    const target = (value: number) => [{ value, color: TARGET_COLOR, label: `target ${value}` }];

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName,
      defaultInterval: Duration.days(14),
    });
    // A dashboard has no time zone of its own: graphs follow each viewer's console setting (UTC or local), so say the team's.
    const { productName, timeZone, checkIn } = props.team;
    this.dashboard.addWidgets(
      new cloudwatch.TextWidget({
        markdown: [
          `# ${productName ? `${productName}: days` : 'Days'} since the last real user interaction`,
          `The team's time zone: **${timeZone}**. Slack's messages give times there; the weekly check-in comes ${dayName(checkIn.day)}s at ${String(checkIn.hour).padStart(2, '0')}:00. Graphs show times in the zone this console is set to.`,
        ].join('\n\n'),
        width: 24,
        height: 2,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.SingleValueWidget({
        title: 'Days since last real user interaction, now',
        metrics: [days],
        sparkline: true,
        // Only the stale alarm's window: a publisher that stopped leaves this blank, never an old healthy-looking number.
        start: '-PT15M',
        width: 6,
        height: 6,
      }),
      new cloudwatch.GraphWidget({
        title: 'Days since last real user interaction',
        left: [days],
        leftAnnotations: [
          { value: props.warningDays, color: WARNING_COLOR, label: `warning (${daysText(props.warningDays)})` },
          { value: props.criticalDays, color: CRITICAL_COLOR, label: `critical (${daysText(props.criticalDays)})` },
        ],
        leftYAxis: { min: 0, showUnits: false },
        legendPosition: cloudwatch.LegendPosition.HIDDEN,
        width: 12,
        height: 6,
      }),
      new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: props.alarms, width: 6, height: 6 }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: `Daily active users (target ${props.dauTarget})`, left: [dau], leftAnnotations: target(props.dauTarget), leftYAxis: { min: 0 }, width: 9 }),
      new cloudwatch.GraphWidget({ title: `Monthly active users (target ${props.mauTarget})`, left: [mau], leftAnnotations: target(props.mauTarget), leftYAxis: { min: 0 }, width: 9 }),
      new cloudwatch.SingleValueWidget({ title: 'Real users', metrics: [dau, wau, mau, total], width: 6 }),
    );
    this.dashboard.addWidgets(new cloudwatch.TextWidget({ markdown: '## Operations', width: 24, height: 1 }));
    const api = props.api;
    this.dashboard.addWidgets(
      ...(api
        ? [
            new cloudwatch.GraphWidget({
              title: 'API 4xx and 5xx',
              left: [
                api.metricClientError({ label: '4xx', statistic: cloudwatch.Stats.SUM, period: FIVE_MINUTES }),
                api.metricServerError({ label: '5xx', statistic: cloudwatch.Stats.SUM, period: FIVE_MINUTES }),
              ],
              width: 6,
            }),
            new cloudwatch.GraphWidget({
              title: 'API latency',
              left: [cloudwatch.Stats.p(50), cloudwatch.Stats.p(90), cloudwatch.Stats.p(99)].map((statistic) =>
                api.metricLatency({ label: statistic, statistic, period: FIVE_MINUTES }),
              ),
              width: 6,
            }),
          ]
        : []),
      new cloudwatch.GraphWidget({ title: 'Lambda errors', left: perFunction((fn) => fn.metricErrors()), width: 6 }),
      new cloudwatch.GraphWidget({ title: 'Lambda throttles', left: perFunction((fn) => fn.metricThrottles()), width: 6 }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Publisher runs',
        left: [
          props.publisher.metricInvocations({ label: 'runs', statistic: cloudwatch.Stats.SUM, period: FIVE_MINUTES }),
          props.publisher.metricErrors({ label: 'errors', statistic: cloudwatch.Stats.SUM, period: FIVE_MINUTES }),
        ],
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Dead-letter queue depth',
        left: Object.entries(props.queues).map(([name, queue]) =>
          queue.metricApproximateNumberOfMessagesVisible({ label: name, statistic: cloudwatch.Stats.MAXIMUM, period: FIVE_MINUTES }),
        ),
        width: 12,
      }),
    );
  }
}
