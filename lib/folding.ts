import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import { LambdaInvoke } from 'aws-cdk-lib/aws-scheduler-targets';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { BUFFER_AGE_FIGURE } from '../functions/core/published-figures.js';
import { PUBLISH_EVERY, schedulerRole } from './alerting.js';
import type { InteractionBufferTable } from './buffer.js';
import type { DaysSinceDatabase } from './database.js';
import { ServiceFunction } from './service-function.js';
import type { SnapshotStore } from './snapshot-store.js';

/** The alarm fires once the oldest buffered interaction has waited this many fold periods: two scheduled folds failed. */
export const FOLD_PERIODS_BEFORE_ALARM = 3;

export interface BufferFoldingProps {
  database: DaysSinceDatabase;
  buffer: InteractionBufferTable;
  snapshots: SnapshotStore;
  /** How often the buffer is folded into Aurora (context foldEveryMinutes): Aurora wakes at most this often for it. */
  foldEvery: Duration;
  metricEnvironment: Readonly<Record<string, string>>;
  logRetention: RetentionDays;
  /** Where the alarm goes (the alerting topic) and the namespace the publisher reports the buffer's age in. */
  topic: sns.ITopic;
  namespace: string;
}

/**
 * The fold: EventBridge Scheduler runs the drain every `foldEvery`; it puts what is buffered into Aurora (and does the
 * maintenance a short auto-pause cancels), and calls nothing when nothing is buffered, so Aurora sleeps. A failed run is
 * not retried: the next one folds what is still there, and an alarm says when the oldest interaction has waited too long.
 */
export class BufferFolding extends Construct {
  readonly drain: ServiceFunction;
  readonly schedule: scheduler.Schedule;
  readonly waitingAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: BufferFoldingProps) {
    super(scope, id);
    this.drain = new ServiceFunction(this, 'Drain', {
      entry: 'drain',
      description: 'days-since: folds the buffered interactions into Aurora, then VACUUM/ANALYZE what is due',
      // A resume after a long pause (30 s and more), several fold stages, and maintenance.
      timeout: Duration.minutes(3),
      logRetention: props.logRetention,
      environment: { ...props.metricEnvironment },
    })
      .bindDatabase(props.database)
      .bindFolding(props.buffer, props.snapshots);
    // The next scheduled run is the retry: two runs at once would only wait for each other's lease.
    this.drain.function.configureAsyncInvoke({ retryAttempts: 0 });
    this.schedule = new scheduler.Schedule(this, 'Schedule', {
      description: `days-since: fold the buffer into Aurora every ${props.foldEvery.toMinutes()} minutes`,
      schedule: scheduler.ScheduleExpression.rate(props.foldEvery),
      target: new LambdaInvoke(this.drain.function, {
        role: schedulerRole(this, 'ScheduleRole', this.drain, 'the fold'),
        retryAttempts: 2,
        maxEventAge: Duration.minutes(Math.min(60, props.foldEvery.toMinutes())),
      }),
    });

    const waitingLimit = props.foldEvery.toSeconds() * FOLD_PERIODS_BEFORE_ALARM;
    this.waitingAlarm = new cloudwatch.Alarm(this, 'Waiting', {
      alarmName: `${Stack.of(this).stackName}-buffer-waiting`,
      alarmDescription: `An accepted interaction has waited more than ${waitingLimit / 3600} hours to be folded into Aurora: the drain or Aurora is failing (see the drain's log group). The number stays exact meanwhile.`,
      metric: new cloudwatch.Metric({ namespace: props.namespace, metricName: BUFFER_AGE_FIGURE, period: PUBLISH_EVERY, statistic: cloudwatch.Stats.MAXIMUM }),
      threshold: waitingLimit,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      // The publisher reports the age every run (0 when nothing waits); a gap means the publisher stopped, which the stale
      // alarm reports. Meanwhile this one keeps its state: it never clears itself while interactions may still wait.
      treatMissingData: cloudwatch.TreatMissingData.IGNORE,
    });
    const action = new SnsAction(props.topic);
    this.waitingAlarm.addAlarmAction(action);
    this.waitingAlarm.addOkAction(action);
  }
}
