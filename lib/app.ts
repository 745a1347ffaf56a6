import { App } from 'aws-cdk-lib';
import { defineDaysSinceApp } from './days-since-app.js';
import { UnsupportedRegionError } from './region-check.js';
import { ContextError } from './settings.js';

// `npx cdk synth` / `npx cdk deploy` run this (cdk.json "app").
try {
  const app = new App();
  await defineDaysSinceApp(app);
  app.synth();
} catch (error) {
  // A bad -c value, or a Region the stack cannot run in, is the user's to fix: say which, without a stack trace.
  if (!(error instanceof ContextError || error instanceof UnsupportedRegionError)) throw error;
  console.error(`Configuration error: ${error.message}`);
  process.exit(1);
}
