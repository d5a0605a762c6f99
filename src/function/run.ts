// One run of the function, from input text to output text: pure, so tests and
// every route (kpt, kustomize, pipes, the legacy exec plugin) share it.
import { parseDocument } from 'yaml';
import { ConfigError, readConfig } from '../config/config.js';
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
import { InputError, yamlProblem } from '../yaml/errors.js';
import type { Json } from '../yaml/json.js';
import { toJson } from '../yaml/read.js';
import { type Namespacing, type Plan, planFrom } from './plan.js';
import { type Outcome, readResources, transform } from './transform.js';
import { validate } from './validate.js';

/** Under kpt, the file that new resources land in. */
export const NEW_FILE = 'ray-tls.yaml';

export interface RunOutput {
  /** The ResourceList (or stream) for stdout; empty when the input could not be read. */
  readonly stdout: string;
  /** The same text in pieces, to write without joining them (a large list's output is tens of MB). */
  pieces: readonly string[];
  /** Human-readable lines for stderr: errors and warnings. */
  stderr: string[];
  exitCode: number;
  results: Result[];
}

const ALWAYS = new Set(['Service', 'Issuer', 'Certificate', 'Secret', 'RayCluster', 'RayJob', 'RayService']);
/** Every way a pod is a Ray node or client mentions Ray: `ray start`, ray://, RAY_*, ray-tls.io/ annotations. */
const RAY_HINT = /\bray\b|ray:\/\/|RAY_/;

/** The config, read once: the plan, or what is wrong with it (reported after decoding). */
type Configured = Plan | ConfigError;

function configure(functionConfig: Json | undefined, stream?: StreamOptions): Configured {
  try {
    return { ...planFrom(readConfig(functionConfig, stream?.settings)), namespace: stream?.namespace };
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
}

/** What a pod spec of a kind ray-tls does not know must say to be reported (pods.ts foreignRayPods). */
const FOREIGN_RAY_HINT = /ray start|ray:\/\//;

/**
 * The items worth parsing: pod carriers that mention Ray (all of them when a clientSelector may
 * pick any), and other kinds that look like running Ray (to warn about them).
 */
function interesting(configured: Configured): Interesting {
  const anyPod = !(configured instanceof ConfigError) && Object.keys(configured.clientSelector).length > 0;
  return (kind, text) => {
    if (kind === 'Service') return 'read'; // for its selector: never edited
    if (ALWAYS.has(kind)) return true;
    if (POD_KINDS.has(kind)) return anyPod || RAY_HINT.test(text);
    return FOREIGN_RAY_HINT.test(text) && 'read'; // for a warning
  };
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

/** The input's items and the config; throws InputError when the input cannot be read. */
function decode(input: string, stream: StreamOptions | undefined): { decoded: Decoded; configured: Configured } {
  if (stream) {
    let functionConfig: Json | undefined;
    if (stream.config !== undefined) {
      const doc = parseDocument(stream.config, PARSE);
      if (doc.errors.length) throw new InputError(`the config file is not valid YAML: ${yamlProblem(doc.errors[0])}`);
      functionConfig = toJson(doc.contents, doc);
    }
    const configured = configure(functionConfig, stream);
    return { decoded: decodeStream(input, interesting(configured), stream.newAnnotations), configured };
  }
  let configured: Configured | undefined;
  const decoded = decodeResourceList(input, (functionConfig) => {
    configured = configure(functionConfig);
    return interesting(configured);
  });
  return { decoded, configured: configured ?? configure(decoded.functionConfig) };
}

/**
 * Runs over a ResourceList; `legacyConfig` (a config file's text) selects the legacy
 * exec-plugin stream protocol; `validateOnly` forces the validator (`ray-tls validate`).
 */
export function run(input: string, legacyConfig?: string, validateOnly = false): RunOutput {
  return runOver(input, legacyConfig === undefined ? undefined : { config: legacyConfig }, validateOnly);
}

/** Runs over a multi-document stream (`ray-tls helm`, the legacy exec plugin). */
export const runStream = (input: string, options: StreamOptions): RunOutput => runOver(input, options, false);

function runOver(input: string, stream: StreamOptions | undefined, validateOnly: boolean): RunOutput {
  let read: ReturnType<typeof decode>;
  try {
    read = decode(input, stream);
  } catch (e) {
    return unreadable(e);
  }
  const { decoded, configured } = read;
  const legacy = stream !== undefined;
  if (configured instanceof ConfigError)
    return output(decoded, { results: configProblems(configured) }, legacy, validateOnly);
  const validating = validateOnly || configured.validate;
  let outcome: Partial<Outcome> & { results: Result[] };
  try {
    outcome = runPlan(decoded, configured, validating);
  } catch (e) {
    return unreadable(e);
  }
  // The edits are made: the items' Documents are no longer needed while the output is written.
  for (const item of decoded.items) item.release?.();
  return output(decoded, outcome, legacy, validating);
}

const configProblems = (e: ConfigError): Result[] =>
  e.problems.map((p) => ({
    severity: 'error' as const,
    message: `invalid function config: ${p.field}: ${p.message}`,
    field: { path: p.field },
  }));

/** The validator's results, or the transformer's outcome. */
function runPlan(decoded: Decoded, plan: Plan, validating: boolean): Partial<Outcome> & { results: Result[] } {
  if (validating)
    return {
      results: validate(
        readResources(decoded.items, plan.namespace).entries.map((e) => e.resource),
        plan,
      ),
    };
  const files = kptFiles(decoded.itemTexts());
  const placement = files.kpt ? { path: NEW_FILE, maxIndex: files.maxIndex(NEW_FILE) } : undefined;
  return transform(decoded.items, plan, placement);
}

/** stdout, stderr and the exit code; on any error, the input unchanged. */
function output(
  decoded: Decoded,
  outcome: Partial<Outcome> & { results: Result[] },
  legacy: boolean,
  validating: boolean,
): RunOutput {
  // Everything below prints the results: none of them may carry a secret from the input.
  const results = outcome.results.map(redactResult);
  const failed = results.some((r) => r.severity === 'error');
  if (failed && !validating)
    results.push({ severity: 'info', message: 'nothing was changed: fix the errors above and run again' });
  const pieces = decoded.encodePieces({
    newItems: outcome.newItems ?? [],
    dropped: outcome.dropped ?? new Set(),
    results: legacy ? [] : results.map(toJsonResult),
    keepInput: failed || validating, // the validator never changes anything
  });
  let joined: string | undefined;
  return {
    get stdout() {
      joined ??= pieces.join('');
      return joined;
    },
    pieces,
    stderr: results.filter((r) => r.severity !== 'info').map(formatResult),
    exitCode: failed ? 1 : 0,
    results,
  };
}

/** Input the function cannot read: a message on stderr, nothing on stdout (no partial ResourceList). */
function unreadable(e: unknown): RunOutput {
  if (!(e instanceof InputError)) throw e;
  return { stdout: '', pieces: [], stderr: [`error: ${redactText(e.message)}`], exitCode: 1, results: [] };
}
