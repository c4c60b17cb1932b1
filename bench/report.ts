/** `npx tsx bench/report.ts bench/results/<timestamp>.json`: prints a saved run's table and targets again. */
import { readFileSync } from 'node:fs';
import { printReport } from './lib/report.js';

const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: report <bench/results/…json>\n');
  process.exit(2);
}
printReport(JSON.parse(readFileSync(file, 'utf8')), (line) => process.stdout.write(`${line}\n`));
