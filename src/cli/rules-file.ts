// `--rules FILE`: a rules pack for the analysis, read with a size bound; any problem is a usage
// error naming the file.
import { readFileSync, statSync } from 'node:fs';
import { parseRules, RulesError, MAX_RULES_FILE_BYTES, type RulePack } from '../diagnose/rules.js';
import { UsageError } from './errors.js';

export function readRulesFile(path: string): RulePack {
  let text: string;
  try {
    if (statSync(path).size > MAX_RULES_FILE_BYTES) throw new Error(`over ${MAX_RULES_FILE_BYTES} bytes`);
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read --rules ${path}: ${(err as Error).message}`);
  }
  try {
    return parseRules(text, path);
  } catch (err) {
    if (err instanceof RulesError) throw new UsageError(err.message);
    throw err;
  }
}
