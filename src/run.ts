// One run of the function, from input text to output text: pure, so tests and
// every route (kpt, kustomize, pipes, the legacy exec plugin) share it.
import { parseDocument } from 'yaml';
import { ConfigError, readConfig } from './config.js';
import { POD_KINDS } from './discover.js';
import { InputError } from './errors.js';
import { decodeResourceList, decodeStream, kptFiles, PARSE, type Decoded } from './resourceList.js';
import { formatResult, toJsonResult, type Result } from './results.js';
import { readResources, transform } from './transform.js';
import { validate } from './validate.js';

/** Under kpt, the file that new resources land in. */
export const NEW_FILE = 'ray-tls.yaml';
import type { Json } from './yamlEdit.js';
import { toJson } from './yamlRead.js';

export interface RunOutput {
  /** The ResourceList (or stream) for stdout; empty when the input could not be read. */
  stdout: string;
  /** Human-readable lines for stderr: errors and warnings. */
  stderr: string[];
  exitCode: number;
  results: Result[];
}

const interesting = (kind: string) => POD_KINDS.has(kind) || kind === 'Service' || kind === 'Issuer' || kind === 'Certificate' || kind === 'Secret';

/**
 * Runs over a ResourceList; `legacyConfig` (a config file's text) selects the legacy
 * exec-plugin stream protocol; `validateOnly` forces the validator (`ray-tls validate`).
 */
export function run(input: string, legacyConfig?: string, validateOnly = false): RunOutput {
  let decoded: Decoded;
  let functionConfig: Json | undefined;
  try {
    if (legacyConfig !== undefined) {
      decoded = decodeStream(input, interesting);
      const doc = parseDocument(legacyConfig, PARSE);
      if (doc.errors.length) throw new InputError(`the config file is not valid YAML: ${doc.errors[0].message}`);
      functionConfig = toJson(doc.contents, doc);
    } else {
      decoded = decodeResourceList(input, interesting);
      functionConfig = decoded.functionConfig;
    }
  } catch (e) {
    return unreadable(e);
  }

  let results: Result[];
  let outcome: ReturnType<typeof transform> | undefined;
  try {
    const config = readConfig(functionConfig);
    if (validateOnly || config.validate) {
      results = validate(readResources(decoded.items), config);
      const failed = results.some((r) => r.severity === 'error');
      const stdout = decoded.encode({ newItems: [], dropped: new Set(), results: legacyConfig !== undefined ? [] : results.map(toJsonResult), keepInput: true });
      return { stdout, stderr: results.filter((r) => r.severity !== 'info').map(formatResult), exitCode: failed ? 1 : 0, results };
    }
    const files = kptFiles(decoded.itemTexts());
    outcome = transform(decoded.items, config, files.kpt ? { path: NEW_FILE, maxIndex: files.maxIndex(NEW_FILE) } : undefined);
    results = outcome.results;
  } catch (e) {
    if (e instanceof InputError) return unreadable(e);
    if (!(e instanceof ConfigError)) throw e;
    results = e.problems.map((p) => ({ severity: 'error' as const, message: `invalid function config: ${p.field}: ${p.message}`, field: { path: p.field } }));
  }
  const failed = results.some((r) => r.severity === 'error');
  if (failed) results.push({ severity: 'info', message: 'nothing was changed: fix the errors above and run again' });
  const stdout = decoded.encode({
    newItems: outcome?.newItems ?? [],
    dropped: outcome?.dropped ?? new Set(),
    results: legacyConfig !== undefined ? [] : results.map(toJsonResult),
    keepInput: failed,
  });
  return {
    stdout,
    stderr: results.filter((r) => r.severity !== 'info').map(formatResult),
    exitCode: failed ? 1 : 0,
    results,
  };
}

/** Input the function cannot read: a message on stderr, nothing on stdout (no partial ResourceList). */
function unreadable(e: unknown): RunOutput {
  if (!(e instanceof InputError)) throw e;
  return { stdout: '', stderr: [`error: ${e.message}`], exitCode: 1, results: [] };
}
