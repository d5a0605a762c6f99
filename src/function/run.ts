// One run of the function, from input text to output text: pure, so tests and
// every route (kpt, kustomize, pipes, the legacy exec plugin) share it.
import { parseDocument } from 'yaml';
import { ConfigError, readConfig } from '../config/config.js';
import { InputError, yamlProblem } from '../krm/errors.js';
import { redactResult, redactText } from '../krm/redact.js';
import {
  type Decoded,
  decodeResourceList,
  decodeStream,
  type Interesting,
  kptFiles,
  PARSE,
} from '../krm/resourceList.js';
import { formatResult, type Result, toJsonResult } from '../krm/results.js';
import { POD_KINDS } from '../ray/kinds.js';
import type { Json } from '../yaml/json.js';
import { toJson } from '../yaml/read.js';
import { planFrom } from './plan.js';
import { readResources, transform } from './transform.js';
import { validate } from './validate.js';

/** Under kpt, the file that new resources land in. */
export const NEW_FILE = 'ray-tls.yaml';

export interface RunOutput {
  /** The ResourceList (or stream) for stdout; empty when the input could not be read. */
  stdout: string;
  /** Human-readable lines for stderr: errors and warnings. */
  stderr: string[];
  exitCode: number;
  results: Result[];
}

const ALWAYS = new Set(['Service', 'Issuer', 'Certificate', 'Secret', 'RayCluster', 'RayJob', 'RayService']);
/** Every way a pod is a Ray node or client mentions Ray: `ray start`, ray://, RAY_*, ray-tls.io/ annotations. */
const RAY_HINT = /\bray\b|ray:\/\/|RAY_/;

/** The items worth parsing: pod carriers that mention Ray (all of them when a clientSelector may pick any). */
function selectItems(functionConfig: Json | undefined): Interesting {
  let anyPod = false;
  try {
    anyPod = Object.keys(readConfig(functionConfig).clientSelector).length > 0;
  } catch {
    // An invalid config is reported after decoding.
  }
  return (kind, text) => ALWAYS.has(kind) || (POD_KINDS.has(kind) && (anyPod || RAY_HINT.test(text)));
}

/**
 * Runs over a ResourceList; `legacyConfig` (a config file's text) selects the legacy
 * exec-plugin stream protocol; `validateOnly` forces the validator (`ray-tls validate`).
 */
export function run(input: string, legacyConfig?: string, validateOnly = false): RunOutput {
  let decoded: Decoded;
  let functionConfig: Json | undefined;
  try {
    if (legacyConfig !== undefined) {
      const doc = parseDocument(legacyConfig, PARSE);
      if (doc.errors.length) throw new InputError(`the config file is not valid YAML: ${yamlProblem(doc.errors[0])}`);
      functionConfig = toJson(doc.contents, doc);
      decoded = decodeStream(input, selectItems(functionConfig));
    } else {
      decoded = decodeResourceList(input, selectItems);
      functionConfig = decoded.functionConfig;
    }
  } catch (e) {
    return unreadable(e);
  }

  let results: Result[];
  let outcome: ReturnType<typeof transform> | undefined;
  let validating = validateOnly;
  try {
    const plan = planFrom(readConfig(functionConfig));
    validating ||= plan.validate;
    if (validating) {
      results = validate(
        readResources(decoded.items).entries.map((e) => e.resource),
        plan,
      );
    } else {
      const files = kptFiles(decoded.itemTexts());
      outcome = transform(
        decoded.items,
        plan,
        files.kpt ? { path: NEW_FILE, maxIndex: files.maxIndex(NEW_FILE) } : undefined,
      );
      results = outcome.results;
    }
  } catch (e) {
    if (e instanceof InputError) return unreadable(e);
    if (!(e instanceof ConfigError)) throw e;
    results = e.problems.map((p) => ({
      severity: 'error' as const,
      message: `invalid function config: ${p.field}: ${p.message}`,
      field: { path: p.field },
    }));
  }
  // Everything below prints the results: none of them may carry a secret from the input.
  results = results.map(redactResult);
  const failed = results.some((r) => r.severity === 'error');
  if (failed && !validating)
    results.push({ severity: 'info', message: 'nothing was changed: fix the errors above and run again' });
  const stdout = decoded.encode({
    newItems: outcome?.newItems ?? [],
    dropped: outcome?.dropped ?? new Set(),
    results: legacyConfig !== undefined ? [] : results.map(toJsonResult),
    keepInput: failed || validating, // the validator never changes anything
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
  return { stdout: '', stderr: [`error: ${redactText(e.message)}`], exitCode: 1, results: [] };
}
