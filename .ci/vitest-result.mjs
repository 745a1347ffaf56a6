// Reads vitest's JSON results (the reporter vitest.config.ts sets), so CI does not rest on exit codes alone.
// node .ci/vitest-result.mjs <result.json>...           exits 1 unless every file ran and every test passed
// node .ci/vitest-result.mjs --failing <result.json>    exits 1 unless some test failed (the fixture's run)
// Either way it prints the counts, summed over the files, as one line: "N passed, N failed, N skipped".
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const failing = args[0] === '--failing';
const files = failing ? args.slice(1) : args;
let passed = 0;
let failed = 0;
let skipped = 0;
let allPassed = files.length > 0;
for (const file of files) {
  let result;
  try {
    result = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    console.error(`no vitest result at ${file}: ${error.message}`);
    process.exit(1);
  }
  passed += result.numPassedTests;
  failed += result.numFailedTests;
  skipped += result.numPendingTests + result.numTodoTests;
  // A file that fails to load fails no test, only its suite.
  allPassed &&= result.success === true && result.numFailedTests === 0 && result.numFailedTestSuites === 0 && result.numPassedTests > 0;
}
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit((failing ? failed > 0 : allPassed) ? 0 : 1);
