import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// .ci/run reads vitest's JSON result through this script rather than trusting an exit code alone.
const SCRIPT = new URL('../../.ci/vitest-result.mjs', import.meta.url).pathname;
const run = promisify(execFile);

interface Counts {
  success: boolean;
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests?: number;
  numTodoTests?: number;
  numFailedTestSuites?: number;
}

let folder: string;
beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'days-since-ci-result-'));
});
afterAll(() => rm(folder, { recursive: true, force: true }));

let written = 0;
async function resultFile(counts: Counts): Promise<string> {
  const path = join(folder, `result-${written++}.json`);
  await writeFile(path, JSON.stringify({ numPendingTests: 0, numTodoTests: 0, numFailedTestSuites: 0, ...counts }));
  return path;
}

async function verdict(...args: string[]): Promise<{ code: number; line: string }> {
  try {
    const { stdout } = await run(process.execPath, [SCRIPT, ...args]);
    return { code: 0, line: stdout.trim() };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, line: (failed.stdout || failed.stderr).trim() };
  }
}

describe('.ci/vitest-result.mjs', () => {
  it('passes a run where every test passed, and prints the closing line', async () => {
    const file = await resultFile({ success: true, numPassedTests: 735, numFailedTests: 0, numPendingTests: 5 });
    expect(await verdict(file)).toEqual({ code: 0, line: '735 passed, 0 failed, 5 skipped' });
  });

  it('fails a run with a failed test, whatever the exit code said', async () => {
    const file = await resultFile({ success: false, numPassedTests: 734, numFailedTests: 1 });
    expect(await verdict(file)).toEqual({ code: 1, line: '734 passed, 1 failed, 0 skipped' });
  });

  it('fails a run where a file failed to load, though no test failed and whatever `success` says', async () => {
    const file = await resultFile({ success: true, numPassedTests: 700, numFailedTests: 0, numFailedTestSuites: 1 });
    expect((await verdict(file)).code).toBe(1);
  });

  it('fails a run that ran no test at all', async () => {
    const file = await resultFile({ success: true, numPassedTests: 0, numFailedTests: 0 });
    expect((await verdict(file)).code).toBe(1);
  });

  it('sums several runs into one line, and fails if any one failed', async () => {
    const node20 = await resultFile({ success: true, numPassedTests: 735, numFailedTests: 0, numPendingTests: 5 });
    const node24 = await resultFile({ success: false, numPassedTests: 734, numFailedTests: 1, numPendingTests: 5 });
    expect(await verdict(node20, node24)).toEqual({ code: 1, line: '1469 passed, 1 failed, 10 skipped' });
  });

  it('fails when there is no result to read', async () => {
    expect((await verdict(join(folder, 'absent.json'))).code).toBe(1);
  });

  it('with --failing, passes only a run in which a test failed: the fixture that proves CI sees failures', async () => {
    const failedOne = await resultFile({ success: false, numPassedTests: 0, numFailedTests: 1 });
    const passedAll = await resultFile({ success: true, numPassedTests: 1, numFailedTests: 0 });
    expect((await verdict('--failing', failedOne)).code).toBe(0);
    expect((await verdict('--failing', passedAll)).code).toBe(1);
  });
});
