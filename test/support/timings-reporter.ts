import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, relative } from 'node:path';
import type { Reporter, TestModule } from 'vitest/node';

/** Where each run leaves how long each file kept its worker, for .ci/heavy-files.mjs to check the heavy list against. */
export const TIMINGS_FILE = 'test-output/timings.json';

/** Writes `{ "project:path": milliseconds }`, slowest first: set-up, import and every test and hook of the file. */
export default class TimingsReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const timings = testModules.map((module) => {
      const { environmentSetupDuration, prepareDuration, collectDuration, setupDuration, duration } = module.diagnostic();
      const file = `${module.project.name}:${relative(module.project.config.root, module.moduleId)}`;
      return [file, Math.round(environmentSetupDuration + prepareDuration + collectDuration + setupDuration + duration)] as const;
    });
    timings.sort((a, b) => b[1] - a[1]);
    mkdirSync(dirname(TIMINGS_FILE), { recursive: true });
    writeFileSync(TIMINGS_FILE, `${JSON.stringify(Object.fromEntries(timings), null, 2)}\n`);
  }
}
