import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { App, RemovalPolicy, Stack, type CfnElement } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSchema } from '../../functions/db/migrate.js';
import { schemaDigest } from '../../functions/handlers/migrate.js';
import { esbuildOptions, HANDLERS_DIR, MAX_BUNDLE_BYTES, PROJECT_ROOT } from '../../lib/bundling.js';
import { SQL_DIR } from '../../lib/days-since-app.js';
import { DaysSinceDatabase } from '../../lib/database.js';
import { SchemaMigration } from '../../lib/migrations.js';
import { ServiceFunction } from '../../lib/service-function.js';

const run = promisify(execFile);

/** Every file in functions/handlers that exports a Lambda `handler`, found by reading them: a new one is checked without being listed. */
const ENTRIES = readdirSync(HANDLERS_DIR)
  .filter((file) => file.endsWith('.ts'))
  .filter((file) => /^export (const|async function|function) handler\b/m.test(readFileSync(join(HANDLERS_DIR, file), 'utf8')))
  .map((file) => file.replace(/\.ts$/, ''));

// Inside the project, so the bundles' external @aws-sdk/* imports resolve from node_modules as they do from the Lambda runtime.
mkdirSync(join(PROJECT_ROOT, 'test-output'), { recursive: true });
const OUT = mkdtempSync(join(PROJECT_ROOT, 'test-output', 'bundles-'));

/** Runs `script` as an ES module in a fresh node, the way the Lambda runtime loads index.mjs. */
async function inNode(script: string, env: Record<string, string> = {}): Promise<string> {
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
    cwd: OUT,
    env: { PATH: process.env.PATH ?? '', AWS_REGION: 'eu-west-1', ...env },
  });
  return stdout.trim();
}

const sizes = new Map<string, number>();

beforeAll(async () => {
  await Promise.all(
    ENTRIES.map(async (name) => {
      const outfile = join(OUT, name, 'index.mjs');
      await build(esbuildOptions(join(HANDLERS_DIR, `${name}.ts`), outfile));
      sizes.set(name, statSync(outfile).size);
    }),
  );
});

afterAll(() => {
  rmSync(OUT, { recursive: true, force: true });
  console.info(`handler bundles (minified, AWS SDK external): ${[...sizes].map(([name, bytes]) => `${name} ${(bytes / 1024).toFixed(1)} KB`).join(', ')}`);
});

describe('handler bundles', () => {
  it('exist for the handlers the stack deploys', () => {
    expect(ENTRIES).toEqual(expect.arrayContaining(['ingest', 'metrics', 'health', 'migrate']));
  });

  it.each(ENTRIES)('%s stays under MAX_BUNDLE_BYTES minified', (name) => {
    expect(sizes.get(name)).toBeGreaterThan(0);
    expect(sizes.get(name)).toBeLessThanOrEqual(MAX_BUNDLE_BYTES);
  });

  it.each(ENTRIES)('%s loads as an ES module in plain node and exports its handler', async (name) => {
    const file = new URL(`file://${join(OUT, name, 'index.mjs')}`).href;
    expect(await inNode(`const m = await import(${JSON.stringify(file)}); console.log(typeof m.handler);`)).toBe('function');
  });

  it('health answers from its bundle without any configuration', async () => {
    const file = new URL(`file://${join(OUT, 'health', 'index.mjs')}`).href;
    const out = await inNode(`const { handler } = await import(${JSON.stringify(file)}); console.log(JSON.stringify(await handler({})));`);
    expect(JSON.parse(out)).toMatchObject({ statusCode: 200, body: JSON.stringify({ status: 'ok' }) });
  });
});

describe('CDK bundling', () => {
  let assetDir: (fn: ServiceFunction) => string;

  beforeAll(() => {
    // A probe app with bundling on: the real NodejsFunction path, local esbuild, no Docker.
    const outdir = join(OUT, 'cdk.out');
    const app = new App({ outdir, context: { 'aws:cdk:enable-asset-metadata': true } });
    const stack = new Stack(app, 'BundleProbe');
    const metrics = new ServiceFunction(stack, 'Metrics', { entry: 'metrics', description: 'probe', logRetention: RetentionDays.ONE_DAY });
    const database = new DaysSinceDatabase(stack, 'Database', {
      minCapacity: 0,
      maxCapacity: 1,
      deletionProtection: false,
      removalPolicy: RemovalPolicy.DESTROY,
      backupRetentionDays: 1,
    });
    const schema = new SchemaMigration(stack, 'Schema', { database, sql: { migrations: [], functions: [] }, logRetention: RetentionDays.ONE_DAY });
    const template = app.synth().getStackByName('BundleProbe').template as { Resources: Record<string, { Metadata?: Record<string, string> }> };
    assetDir = (fn) => {
      const id = stack.getLogicalId(fn.function.node.defaultChild as CfnElement);
      return join(outdir, template.Resources[id]!.Metadata!['aws:asset:path']!);
    };
    probes = { metrics, migrator: schema.migrator };
  });
  let probes: { metrics: ServiceFunction; migrator: ServiceFunction };

  it('produces byte for byte the bundle the size check measures, so both read the same settings', () => {
    const cdk = readFileSync(join(assetDir(probes.metrics), 'index.mjs'));
    expect(cdk.equals(readFileSync(join(OUT, 'metrics', 'index.mjs')))).toBe(true);
  });

  it('ships sql/ beside the migrator, which refuses to run when the files are not the ones it was built for', async () => {
    const dir = assetDir(probes.migrator);
    // Every file of sql/migrations and sql/functions, in its folder.
    const files = (root: string) => readdirSync(root, { recursive: true, encoding: 'utf8' }).sort();
    expect(files(join(dir, 'sql'))).toEqual(files(SQL_DIR));
    expect(files(join(dir, 'sql'))).toEqual(expect.arrayContaining(['migrations/001_baseline.sql', 'functions/record_interactions.sql']));
    const digest = schemaDigest(await loadSchema(SQL_DIR));
    const file = new URL(`file://${join(dir, 'index.mjs')}`).href;
    const script = `const { handler } = await import(${JSON.stringify(file)});
      try { await handler(); console.log('ran'); } catch (error) { console.log(error.message); }`;
    const env = { DB_CLUSTER_ARN: 'arn:aws:rds:eu-west-1:123456789012:cluster:x', DB_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:x', DB_NAME: 'days_since' };
    // Told the wrong fingerprint, it names the one of the sql/ it carries: the real files made it into the bundle.
    const refused = await inNode(script, { ...env, SCHEMA_SHA256: 'f'.repeat(64) });
    expect(refused).toBe(
      `the sql/ bundled here (sha256 ${digest}) is not the one this deployment was synthesized from (sha256 ${'f'.repeat(64)})`,
    );
  });
});
