import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { OutputFormat, type BundlingOptions } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { BuildOptions } from 'esbuild';

export const PROJECT_ROOT = fileURLToPath(new URL('../', import.meta.url));
export const HANDLERS_DIR = fileURLToPath(new URL('../functions/handlers/', import.meta.url));

/**
 * Cold starts pay for every byte: the build check fails any handler bundle above this. 120 KB since the readers that
 * fold carry the configurable product (types, milestones, time zone) beside the buffer: 109 KB for weekly-report.
 */
export const MAX_BUNDLE_BYTES = 120 * 1024;

/** How every handler is bundled: read by the stack (through CDK) and by the bundle-size check (through esbuild directly). */
export const HANDLER_BUNDLE = {
  target: 'node22',
  format: 'esm',
  minify: true,
  // The Lambda runtime ships the AWS SDK v3.
  external: ['@aws-sdk/*'],
  // Prefer packages' ES module builds: smaller, and no CommonJS wrapper.
  mainFields: ['module', 'main'],
  // A CommonJS dependency that calls require() still works inside an ES module bundle.
  banner: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
} as const;

/** The path of a Lambda entry, `functions/handlers/<name>.ts`; a typo fails at synth, not at deploy. */
export function handlerEntry(name: string): string {
  const entry = `${HANDLERS_DIR}${name}.ts`;
  if (!existsSync(entry)) throw new Error(`no handler at functions/handlers/${name}.ts`);
  return entry;
}

/** HANDLER_BUNDLE as NodejsFunction bundling options: local esbuild, never Docker. */
export function cdkBundling(extra: Partial<BundlingOptions> = {}): BundlingOptions {
  return {
    forceDockerBundling: false,
    target: HANDLER_BUNDLE.target,
    format: OutputFormat.ESM,
    minify: HANDLER_BUNDLE.minify,
    externalModules: [...HANDLER_BUNDLE.external],
    mainFields: [...HANDLER_BUNDLE.mainFields],
    banner: HANDLER_BUNDLE.banner,
    sourceMap: false,
    ...extra,
  };
}

/** HANDLER_BUNDLE as esbuild build options, as NodejsFunction passes them on its command line. */
export function esbuildOptions(entry: string, outfile: string): BuildOptions {
  return {
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    target: HANDLER_BUNDLE.target,
    format: HANDLER_BUNDLE.format,
    minify: HANDLER_BUNDLE.minify,
    external: [...HANDLER_BUNDLE.external],
    mainFields: [...HANDLER_BUNDLE.mainFields],
    banner: { js: HANDLER_BUNDLE.banner },
    metafile: true,
    logLevel: 'silent',
  };
}
