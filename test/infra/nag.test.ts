import { App, Stack, Validations } from 'aws-cdk-lib';
import { PolicyStatement, User } from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { synthesize } from './synth.js';

/** Every acknowledgement in the tree: where it was made, for which rule, and why. */
function acknowledgements(root: IConstruct) {
  return root.node.findAll().flatMap((construct) =>
    construct.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) =>
        Object.entries(entry.data as Record<string, string>).map(([id, reason]) => ({
          construct,
          path: construct.node.path,
          id: id.replace(/^annotation::/i, ''),
          reason,
        })),
      ),
  );
}

/** The pack's findings as if nothing had been acknowledged. */
function unacknowledgedFindings(root: IConstruct) {
  const pack = new AwsSolutionsChecks(undefined, { verbose: true });
  // The pack's own acknowledgement lookup, switched off to see what each acknowledgement hides.
  (pack as unknown as { isAcknowledged: () => boolean }).isAcknowledged = () => false;
  return pack.validateScope(root).violations;
}

describe('cdk-nag AwsSolutions checks', () => {
  it('find no unacknowledged error or warning in the app as `cdk synth` builds it', async () => {
    const { app } = await synthesize();
    const report = new AwsSolutionsChecks(undefined, { verbose: true }).validateScope(app);
    expect(report.violations.map((v) => `${v.severity} ${v.ruleName} ${v.violatingResources.map((r) => r.constructPath).join(', ')}`)).toEqual([]);
    expect(report.success).toBe(true);
  });

  it('run as a validation plugin of the app, so `cdk synth` itself fails on a finding', async () => {
    const { app } = await synthesize();
    expect(() => app.synth()).not.toThrow();

    // The same plugin on an app with one careless resource: synthesis stops and names the rule.
    const careless = new App();
    Validations.of(careless).addPlugins(new AwsSolutionsChecks(careless));
    new User(new Stack(careless, 'Careless'), 'Someone').addToPolicy(new PolicyStatement({ actions: ['*'], resources: ['*'] }));
    expect(() => careless.synth()).toThrow(/AwsSolutions-IAM5/);
  });

  it('stay clean with deletion protection off, the setting docs/deploy.md asks for before a teardown', async () => {
    const { app } = await synthesize({ deletionProtection: 'false', removalPolicy: 'destroy' });
    expect(new AwsSolutionsChecks().validateScope(app).violations).toEqual([]);
  });

  it('are acknowledged only on the resources that need it, each with its own written reason', async () => {
    const { app, stack } = await synthesize();
    // aws-cdk-lib acknowledges some of its own CloudFormation-Validate findings; these are ours.
    const acks = acknowledgements(app).filter((ack) => ack.id.startsWith('AwsSolutions-'));
    expect(acks.length).toBeGreaterThan(0);
    const findings = unacknowledgedFindings(app);
    for (const ack of acks) {
      // Never on the app or the stack: that would silence the rule for everything, present and future.
      expect([app.node.path, stack.node.path]).not.toContain(ack.path);
      // Each one hides a real finding on that construct or below it; a stale one fails here.
      const hidden = findings.find(
        (finding) =>
          finding.ruleName === ack.id &&
          finding.violatingResources.some((resource) => resource.constructPath === ack.path || resource.constructPath?.startsWith(`${ack.path}/`)),
      );
      expect(hidden, `${ack.id} on ${ack.path} hides nothing`).toBeDefined();
      expect(ack.reason.length, `${ack.id} on ${ack.path}`).toBeGreaterThanOrEqual(80);
    }
    // A reason written for one finding, not pasted onto several.
    const reasons = acks.map((ack) => ack.reason);
    expect(new Set(reasons).size).toBe(reasons.length);
  });
});
