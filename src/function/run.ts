// One run of the function, from input text to output text: pure, so tests and
// every route (kpt, kustomize, pipes, the legacy exec plugin) share it.
import { parseDocument } from 'yaml';
import { ConfigError, readConfig } from '../config/config.js';
import { InputError } from '../krm/errors.js';
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
import { type Namespacing, planFrom } from './plan.js';
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
function selectItems(functionConfig: Json | undefined, settings?: Record<string, string>): Interesting {
  let anyPod = false;
  try {
    anyPod = Object.keys(readConfig(functionConfig, settings).clientSelector).length > 0;
  } catch {
    // An invalid config is reported after decoding.
  }
  return (kind, text) => ALWAYS.has(kind) || (POD_KINDS.has(kind) && (anyPod || RAY_HINT.test(text)));
}

/** A multi-document stream in and out: the legacy exec plugin (a config file) and `ray-tls helm`. */
export interface StreamOptions {
  /** The config file's text (RayTLS or ConfigMap). */
  config?: string;
  /** `key=value` config fields over the config's, as kpt's `-- key=value` (flat ConfigMap keys). */
  settings?: Record<string, string>;
  namespace?: Namespacing;
  /** Annotations for every new document (Helm 4 names a document's source file by one). */
  newAnnotations?: Record<string, string>;
}

/**
 * Runs over a ResourceList; `legacyConfig` (a config file's text) selects the legacy
 * exec-plugin stream protocol; `validateOnly` forces the validator (`ray-tls validate`).
 */
export function run(input: string, legacyConfig?: string, validateOnly = false): RunOutput {
  if (legacyConfig !== undefined) return runStream(input, { config: legacyConfig });
  let decoded: Decoded;
  try {
    decoded = decodeResourceList(input, selectItems);
  } catch (e) {
    return unreadable(e);
  }
  return runDecoded(decoded, decoded.functionConfig, { validateOnly, results: true });
}

export function runStream(input: string, options: StreamOptions): RunOutput {
  let decoded: Decoded;
  let functionConfig: Json | undefined;
  try {
    if (options.config !== undefined) {
      const doc = parseDocument(options.config, PARSE);
      if (doc.errors.length) throw new InputError(`the config file is not valid YAML: ${doc.errors[0].message}`);
      functionConfig = toJson(doc.contents, doc);
    }
    decoded = decodeStream(input, selectItems(functionConfig, options.settings), options.newAnnotations);
  } catch (e) {
    return unreadable(e);
  }
  return runDecoded(decoded, functionConfig, {
    validateOnly: false,
    results: false,
    settings: options.settings,
    namespace: options.namespace,
  });
}

function runDecoded(
  decoded: Decoded,
  functionConfig: Json | undefined,
  options: { validateOnly: boolean; results: boolean; settings?: Record<string, string>; namespace?: Namespacing },
): RunOutput {
  let results: Result[];
  let outcome: ReturnType<typeof transform> | undefined;
  let validating = options.validateOnly;
  try {
    const plan = { ...planFrom(readConfig(functionConfig, options.settings)), namespace: options.namespace };
    validating ||= plan.validate;
    if (validating) {
      results = validate(
        readResources(decoded.items, plan.namespace).entries.map((e) => e.resource),
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
  const failed = results.some((r) => r.severity === 'error');
  if (failed && !validating)
    results.push({ severity: 'info', message: 'nothing was changed: fix the errors above and run again' });
  const stdout = decoded.encode({
    newItems: outcome?.newItems ?? [],
    dropped: outcome?.dropped ?? new Set(),
    results: options.results ? results.map(toJsonResult) : [],
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
  return { stdout: '', stderr: [`error: ${e.message}`], exitCode: 1, results: [] };
}
