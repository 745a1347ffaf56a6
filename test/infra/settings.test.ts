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
        MILESTONES: '',
      },
      thresholds: { warningDays: 1, criticalDays: 7, dauTarget: 10, mauTarget: 50 },
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

  it.each([
    [{ warningDays: 'soon' }, 'warningDays', 'must be a number >= 0, got "soon"'],
    [{ criticalDays: '1' }, 'criticalDays', 'must be greater than warningDays (1), got 1'],
    [{ internalUserIds: 'alice' }, 'internalUserIds', 'must be comma-separated UUIDs, got "alice"'],
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
