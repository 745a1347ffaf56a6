// Checks the heavy-first list (test/support/heavy-files.json) against a run's timings (test-output/timings.json,
// written by test/support/timings-reporter.ts), so the list cannot drift away from what is slow.
// node .ci/heavy-files.mjs <timings.json> [heavy-files.json]
// Exits 1, naming the file and what to do, when a listed file did not run (renamed or gone), or when a file off the
// list took longer than the median listed file: a margin wide enough that load on the machine does not flip it.
import { readFileSync } from 'node:fs';

const [timingsFile, listFile = new URL('../test/support/heavy-files.json', import.meta.url).pathname] = process.argv.slice(2);
const timings = JSON.parse(readFileSync(timingsFile, 'utf8'));
const listed = JSON.parse(readFileSync(listFile, 'utf8'));
const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;

const problems = listed.filter((file) => !(file in timings)).map((file) => `${file} is listed but did not run: take it off the list`);
const listedTimes = listed.filter((file) => file in timings).map((file) => timings[file]).sort((a, b) => a - b);
const median = listedTimes.length === 0 ? 0 : listedTimes[Math.floor(listedTimes.length / 2)];
const unlisted = Object.entries(timings).filter(([file]) => !listed.includes(file));
for (const [file, ms] of unlisted) {
  if (ms > median) problems.push(`${file} took ${seconds(ms)}, more than the median listed file (${seconds(median)}): add it to the list`);
}

if (problems.length > 0) {
  console.error(`The heavy-first list (${listFile}) no longer matches this run's timings:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
const [slowest, ms] = unlisted.sort((a, b) => b[1] - a[1])[0] ?? ['none', 0];
console.log(`heavy-first list: ${listed.length} files, median ${seconds(median)}; the slowest file off it: ${slowest} (${seconds(ms)})`);
