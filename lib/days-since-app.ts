import { Validations, type App } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { loadSchema } from '../functions/db/migrate.js';
import { PROJECT_ROOT } from './bundling.js';
import { ContextError } from './settings.js';
import { DaysSinceStack } from './stack.js';

export const SQL_DIR = `${PROJECT_ROOT}sql/`;

const STACK_NAME = /^[A-Za-z][A-Za-z0-9-]{0,127}$/;

/** The app as `cdk synth` builds it: the AwsSolutions checks on everything, and one stack named by -c stackName. */
export async function defineDaysSinceApp(app: App): Promise<DaysSinceStack> {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  const stackName = String(app.node.tryGetContext('stackName') ?? 'DaysSince');
  if (!STACK_NAME.test(stackName)) {
    throw new ContextError('stackName', `must start with a letter and hold only letters, digits and hyphens, got "${stackName}"`);
  }
  return new DaysSinceStack(app, stackName, { sql: await loadSchema(SQL_DIR) });
}
