import { relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The files that take longest on this 2-core machine, roughly longest first, as `project:path`. On a fresh clone
 * vitest has no timings yet, so without this list a 30-second file may start last and leave one worker running it
 * alone. Only the order matters: add a file here when it becomes one of the slow ones.
 */
const HEAVY = [
  'pglite:test/integration/traffic-order.test.ts',
  'pglite:test/integration/data-dir-lock.test.ts',
  'pglite:test/integration/status-page.test.ts',
  'pglite:test/integration/clean-stop.test.ts',
  'pglite:test/integration/local-server.test.ts',
  'pglite:test/integration/local-loop.test.ts',
  'pglite:test/infra/bundles.test.ts',
  'pglite:test/unit/migrate.test.ts',
  'pglite:test/integration/concurrent-writers.test.ts',
  'pglite:test/infra/nag.test.ts',
  'pglite:test/integration/hostile-input.test.ts',
  'pglite:test/integration/snapshot-exact.test.ts',
  'pglite:test/infra/openapi.test.ts',
  'pglite:test/infra/template.test.ts',
  'pglite:test/integration/upgrade-0.1.0.test.ts',
  'pglite:test/infra/migrate-handler.test.ts',
  'postgres:test/integration/local-server.test.ts',
];

/** Starts the known-heavy files first, then the rest in vitest's own order (its timings when it has them). */
export default class HeavyFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rest = await super.sort(files);
    const rank = (spec: TestSpecification) => {
      const index = HEAVY.indexOf(`${spec.project.name}:${relative(this.ctx.config.root, spec.moduleId)}`);
      return index === -1 ? HEAVY.length : index;
    };
    // Array.prototype.sort is stable: files off the list keep super.sort's order.
    return rest.sort((a, b) => rank(a) - rank(b));
  }
}
