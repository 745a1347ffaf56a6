import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  alarmNotificationsOf,
  alarmRolesFromEnv,
  NotAnAlarmError,
  parseAlarmMessage,
  roleOf,
} from '../../functions/core/alarm-notification.js';
import { ConfigError } from '../../functions/core/config.js';

const fixture = (name: string) => JSON.parse(readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8'));

describe('CloudWatch alarm notifications from SNS (real AWS samples)', () => {
  it('reads the plain metric alarm format', () => {
    const [alarm] = alarmNotificationsOf(fixture('sns-alarm-single-metric.json'));
    expect(alarm).toEqual({
      alarmName: 'EXAMPLE',
      alarmArn: 'arn:aws:cloudwatch:REGION:ACCOUNT_NUMBER:alarm:EXAMPLE',
      description: 'EXAMPLE',
      newState: 'ALARM',
      oldState: 'INSUFFICIENT_DATA',
      reason:
        'Threshold Crossed: 1 out of the last 1 datapoints [1234.0 (06/03/15 17:43:27)] was greater than the threshold (0.0) (minimum 1 datapoint for OK -> ALARM transition).',
      changedAt: new Date('2015-06-03T17:43:27.123Z'),
      format: 'metric',
      metricNames: ['NetworkOut'],
      windowSeconds: 60,
      triggeringChildren: [],
    });
  });

  it('reads the metric-math format, naming the metrics the expression reads', () => {
    const [alarm] = alarmNotificationsOf(fixture('sns-alarm-metric-math.json'));
    expect(alarm).toMatchObject({
      alarmName: 'EXAMPLE',
      newState: 'ALARM',
      oldState: 'INSUFFICIENT_DATA',
      changedAt: new Date('2015-06-03T17:43:27.123Z'),
      format: 'metric_math',
      metricNames: ['NetworkOut'],
      windowSeconds: 60,
    });
  });

  it('reads the composite format, with the children that flipped it', () => {
    const [alarm] = alarmNotificationsOf(fixture('sns-alarm-composite.json'));
    expect(alarm).toEqual({
      alarmName: 'CompositeDemo.Main',
      alarmArn: 'arn:aws:cloudwatch:us-east-1:111122223333:alarm:CompositeDemo.Main',
      description: '',
      newState: 'ALARM',
      oldState: 'OK',
      reason: 'arn:aws:cloudwatch:us-east-1:111122223333:alarm:CompositeDemo.FirstChild transitioned to ALARM at Friday 04 August, 2023 12:54:46 UTC',
      changedAt: new Date('2023-08-04T12:56:46.138Z'),
      format: 'composite',
      metricNames: [],
      windowSeconds: null,
      triggeringChildren: ['arn:aws:cloudwatch:us-east-1:111122223333:alarm:CompositeDemo.FirstChild'],
    });
  });

  it('takes TriggeringChildren as the plain strings the schema documents, too', () => {
    const message = JSON.parse(fixture('sns-alarm-composite.json').Records[0].Sns.Message);
    message.TriggeringChildren = ['arn:aws:cloudwatch:us-east-1:111122223333:alarm:CompositeDemo.FirstChild'];
    expect(parseAlarmMessage(JSON.stringify(message)).triggeringChildren).toEqual([
      'arn:aws:cloudwatch:us-east-1:111122223333:alarm:CompositeDemo.FirstChild',
    ]);
  });

  it('reads every record of an event, and says why one is not an alarm without dropping the others', () => {
    const event = fixture('sns-alarm-single-metric.json');
    event.Records.push({ ...event.Records[0], Sns: { ...event.Records[0].Sns, Message: 'hello from the console' } });
    const [first, second] = alarmNotificationsOf(event);
    expect(first).not.toBeInstanceOf(NotAnAlarmError);
    expect(second).toBeInstanceOf(NotAnAlarmError);
    expect((second as Error).message).toBe('the message is not JSON');
  });

  it.each([
    [{ AlarmName: 'x', NewStateValue: 'ALARM', StateChangeTime: '2026-02-08T10:00:00.000+0000' }, 'Trigger: is required for a metric alarm'],
    [{ AlarmName: 'x', NewStateValue: 'PANIC', StateChangeTime: '2026-02-08T10:00:00.000+0000', AlarmRule: 'TRUE' }, 'NewStateValue'],
    [{ AlarmName: 'x', NewStateValue: 'OK', StateChangeTime: 'yesterday', AlarmRule: 'TRUE' }, 'StateChangeTime is not a date'],
    [{ NewStateValue: 'OK', StateChangeTime: '2026-02-08T10:00:00.000+0000', AlarmRule: 'TRUE' }, 'AlarmName'],
  ])('refuses a message that is not an alarm notification: %j', (message, problem) => {
    expect(() => parseAlarmMessage(JSON.stringify(message))).toThrow(NotAnAlarmError);
    expect(() => parseAlarmMessage(JSON.stringify(message))).toThrow(problem);
  });

  it('refuses an event that is not from SNS', () => {
    const [only] = alarmNotificationsOf({ source: 'aws.scheduler' });
    expect(only).toBeInstanceOf(NotAnAlarmError);
  });
});

describe('ALARM_ROLES', () => {
  it('maps the stack\'s alarm names to roles; any other alarm is an operations alarm', () => {
    const roles = alarmRolesFromEnv({ ALARM_ROLES: '{"prod-warning":"warning","prod-critical":"critical","prod-stale":"stale"}' });
    const alarm = parseAlarmMessage(fixture('sns-alarm-single-metric.json').Records[0].Sns.Message);
    expect(roleOf({ ...alarm, alarmName: 'prod-critical' }, roles)).toBe('critical');
    expect(roleOf({ ...alarm, alarmName: 'prod-stale' }, roles)).toBe('stale');
    expect(roleOf(alarm, roles)).toBe('operations');
    expect(alarmRolesFromEnv({}).size).toBe(0);
  });

  it.each(['not json', '{"a":"panic"}', '["critical"]'])('names the variable when it is wrong: %s', (value) => {
    expect(() => alarmRolesFromEnv({ ALARM_ROLES: value })).toThrow(ConfigError);
    expect(() => alarmRolesFromEnv({ ALARM_ROLES: value })).toThrow(/^ALARM_ROLES /);
  });
});
