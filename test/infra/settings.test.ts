import { App, RemovalPolicy } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { describe, expect, it } from 'vitest';
import { synthesize } from './synth.js';
import { defineDaysSinceApp } from '../../lib/days-since-app.js';
import { ContextError, readDeploySettings } from '../../lib/settings.js';

const settings = (context: Record<string, unknown>) => readDeploySettings(new App({ context }).node);

describe('deployment settings from CDK context', () => {
  it('default to a protected, kept, cheap deployment and the seed\'s thresholds', () => {
    expect(settings({})).toEqual({
      metricEnvironment: {
        WARNING_DAYS: '1',
        CRITICAL_DAYS: '7',
        DAU_TARGET: '10',
        MAU_TARGET: '50',
        BASELINE_DATE: '',
        INTERNAL_USER_IDS: '',
        INTERNAL_EMAIL_DOMAINS: '',
        INTERACTION_TYPES: 'signup,login,coach_call,agent_run,decision,export,feedback,payment',
        MILESTONES: '',
        PRODUCT_NAME: '',
        TEAM_TIME_ZONE: 'UTC',
        CHECK_IN_DAY: 'fri',
        CHECK_IN_HOUR: '9',
        STORE_IP: 'none',
      },
      // Which key to name when the whole environment does not fit (lib/environment-size.ts).
      contextOfVariable: expect.objectContaining({ INTERNAL_USER_IDS: 'internalUserIds', MILESTONES: 'milestones', INTERACTION_TYPES: 'interactionTypes' }),
      thresholds: { warningDays: 1, criticalDays: 7, dauTarget: 10, mauTarget: 50 },
      team: { productName: null, timeZone: 'UTC', checkIn: { day: 'fri', hour: 9 } },
      throttleRate: 50,
      throttleBurst: 100,
      minCapacity: 0,
      maxCapacity: 2,
      autoPauseSeconds: 300,
      foldEveryMinutes: 180,
      deletionProtection: true,
      // Kept through updates and the stack's deletion; not through the rollback of a failed first deploy.
      removalPolicy: RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
      backupRetentionDays: 7,
      logRetention: RetentionDays.ONE_MONTH,
    });
  });

  it('accept cdk.json\'s JSON values as well as -c text', () => {
    const fromJson = settings({
      internalEmailDomains: ['example.com', 'corp.example.org'],
      internalUserIds: ['6F1C2A4E-8D3B-4C5A-9E7F-0A1B2C3D4E5F'],
      warningDays: 0.5,
      deletionProtection: false,
      removalPolicy: 'SNAPSHOT',
      minCapacity: 0.5,
    });
    expect(fromJson.metricEnvironment).toMatchObject({
      WARNING_DAYS: '0.5',
      INTERNAL_EMAIL_DOMAINS: 'example.com,corp.example.org',
      INTERNAL_USER_IDS: '6f1c2a4e-8d3b-4c5a-9e7f-0a1b2c3d4e5f',
    });
    expect(fromJson).toMatchObject({ deletionProtection: false, removalPolicy: RemovalPolicy.SNAPSHOT, minCapacity: 0.5 });
    expect(fromJson.thresholds).toEqual({ warningDays: 0.5, criticalDays: 7, dauTarget: 10, mauTarget: 50 });
  });

  it("read the team's words and the example milestones file, and hand the Lambdas the file's JSON, not its path", () => {
    const sn1ma = settings({
      productName: 'SN1MA',
      teamTimeZone: 'Africa/Johannesburg',
      checkInDay: 'friday',
      checkInHour: 9,
      interactionTypes: ['signup', 'login', 'payment', 'report_viewed'],
      storeIp: 'truncated',
      internalUserIds: ['42', 'a,b'],
      milestonesFile: 'docs/examples/sn1ma-milestones.json',
    });
    expect(sn1ma.metricEnvironment).toMatchObject({
      PRODUCT_NAME: 'SN1MA',
      TEAM_TIME_ZONE: 'Africa/Johannesburg',
      CHECK_IN_DAY: 'fri',
      CHECK_IN_HOUR: '9',
      INTERACTION_TYPES: 'signup,login,payment,report_viewed',
      STORE_IP: 'truncated',
      INTERNAL_USER_IDS: '["42","a,b"]',
    });
    expect(JSON.parse(sn1ma.metricEnvironment.MILESTONES).map((m: { name: string }) => m.name)).toEqual([
      'First user signs up',
      '5 active users',
      '10 paying users',
      '50 active users',
    ]);
    expect(Object.keys(sn1ma.metricEnvironment)).not.toContain('MILESTONES_FILE');
    // Milestones too long for the environment are blamed on the key that brought them.
    expect(sn1ma.contextOfVariable.MILESTONES).toBe('milestonesFile');
    expect(sn1ma.team).toEqual({ productName: 'SN1MA', timeZone: 'Africa/Johannesburg', checkIn: { day: 'fri', hour: 9 } });
  });

  it.each([
    [{ warningDays: 'soon' }, 'warningDays', 'must be a number >= 0, got "soon"'],
    [{ criticalDays: '1' }, 'criticalDays', 'must be greater than warningDays (1), got 1'],
    [{ internalUserIds: `ana,${'x'.repeat(129)}` }, 'internalUserIds', `must list user ids (1 to 128 characters): "${'x'.repeat(129)}" must be at most 128 characters`],
    [{ interactionTypes: 'login,Report' }, 'interactionTypes', 'must be comma-separated types of 1 to 50 characters'],
    [{ teamTimeZone: 'SAST' }, 'teamTimeZone', 'must be an IANA time zone such as Europe/Berlin'],
    [{ checkInDay: 'someday' }, 'checkInDay', 'must be a day of the week such as fri or friday, got "someday"'],
    [{ checkInHour: '25' }, 'checkInHour', 'must be a whole number from 0 to 23, got "25"'],
    [{ storeIp: 'all' }, 'storeIp', 'must be none or truncated, got "all"'],
    [{ milestonesFile: 'nowhere.json' }, 'milestonesFile', 'could not be read: nowhere.json (ENOENT)'],
    [{ milestones: '[]', milestonesFile: 'docs/examples/sn1ma-milestones.json' }, 'milestonesFile', 'and milestones are both set: use one'],
    [{ internalEmailDomains: 'not a domain' }, 'internalEmailDomains', 'must be comma-separated domains'],
    [{ baselineDate: 'last tuesday' }, 'baselineDate', 'must be a date like 2026-02-01'],
    [{ dauTarget: '2.5' }, 'dauTarget', 'must be a whole number >= 0'],
    [{ milestones: '[{"name": "x"}]' }, 'milestones', ''],
    [{ minCapacity: '0.3' }, 'minCapacity', 'must be a multiple of 0.5 ACU up to 256, got 0.3'],
    [{ maxCapacity: '300' }, 'maxCapacity', 'must be a multiple of 0.5 ACU up to 256, got 300'],
    [{ minCapacity: '4', maxCapacity: '2' }, 'maxCapacity', 'must be at least minCapacity (4), got 2'],
    [{ autoPauseSeconds: '60' }, 'autoPauseSeconds', 'must be a whole number >= 300, got "60"'],
    [{ autoPauseSeconds: '90000' }, 'autoPauseSeconds', 'must be between 300 and 86400 seconds, got 90000'],
    [{ foldEveryMinutes: '2' }, 'foldEveryMinutes', 'must be a whole number >= 5, got "2"'],
    [{ foldEveryMinutes: '2000' }, 'foldEveryMinutes', 'must be between 5 and 1440 minutes, got 2000'],
    [{ deletionProtection: 'maybe' }, 'deletionProtection', 'must be true or false, got "maybe"'],
    [{ removalPolicy: 'keep' }, 'removalPolicy', 'must be one of retain, snapshot, destroy, got "keep"'],
    [{ removalPolicy: 'destroy' }, 'removalPolicy', 'is destroy, which needs -c deletionProtection=false'],
    [{ backupRetentionDays: '40' }, 'backupRetentionDays', 'must be between 1 and 35 days, got 40'],
    [{ logRetentionDays: '10' }, 'logRetentionDays', "must be one of CloudWatch's retention periods (1, 3, 5, 7, 14,"],
    [{ throttleRate: '0' }, 'throttleRate', 'must be more than 0 requests per second'],
    [{ throttleBurst: '1.5' }, 'throttleBurst', 'must be a whole number >= 1, got "1.5"'],
  ])('refuse %j, naming the context key', (context, key, problem) => {
    const attempt = () => settings(context);
    expect(attempt).toThrow(ContextError);
    expect(attempt).toThrow(`context "${key}" ${problem}`);
    expect(attempt).not.toThrow(/[A-Z]{2,}_[A-Z]+/);
  });

  it('refuse internal lists too long for a Lambda environment, naming the longest', async () => {
    const ids = Array.from({ length: 90 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`);
    await expect(synthesize({ internalUserIds: ids.join(',') })).rejects.toThrow(/context "internalUserIds" is too long: .* 4 KB/);
  });

  it('refuse a stack name CloudFormation would refuse', async () => {
    await expect(defineDaysSinceApp(new App({ context: { stackName: 'days since' } }))).rejects.toThrow(
      'context "stackName" must start with a letter and hold only letters, digits and hyphens, got "days since"',
    );
  });
});
