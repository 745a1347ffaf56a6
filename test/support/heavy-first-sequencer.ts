import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The files that take longest on this 2-core machine, longest first, as `project:path`. On a fresh clone vitest has
 * no timings yet, so without this list a 40-second file may start last and leave one worker running it alone.
 * `.ci/heavy-files.mjs` checks the list against each CI run's timings (test-output/timings.json) and names a file
 * to add or remove.
 */
const HEAVY: string[] = JSON.parse(readFileSync(new URL('./heavy-files.json', import.meta.url), 'utf8'));

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
