// `ray-tls helm`: Helm's post-renderer. The rendered chart comes in as a multi-document stream
// and goes out the same way. Helm 4 runs it as a plugin (HELM_PLUGIN_NAME=ray-tls) and shows
// nothing of a failed plugin's stderr, so there a failure is a document Helm refuses, named
// after the error: Helm's own error line then carries ray-tls's message, and nothing renders.
import { type RunOutput, runStream } from '../function/run.js';
import { namespaceError, parseFlags } from './args.js';
import { internalErrorText } from './internalError.js';

export const HELM_HELP = `Usage: ray-tls helm [--namespace=NS] [--config=FILE] [KEY=VALUE...]

Helm post-renderer: the rendered chart on stdin (a multi-document YAML stream), the same
stream on stdout with TLS added to every Ray pod and the cert-manager resources appended.
Documents other than Ray's pass through byte for byte.

Options:
  --namespace=NS   the release namespace (helm -n): documents without a namespace are in
                   it, and the CA chain for them goes there. Needed when a chart puts some
                   Ray pods in a namespace and leaves others without one.
  --config=FILE    the RayTLS config (or a ConfigMap with flat keys)
  KEY=VALUE        a config field over the file's, e.g. mode=pod-dns auth=token
                   privateKey.size=2048 (as kpt's -- key=value)

Helm 3 (a path, or ray-tls on PATH):
  helm install REL CHART -n NS --post-renderer ray-tls --post-renderer-args helm \\
    --post-renderer-args=--namespace=NS
Helm 4 (the plugin in functions/helm/ray-tls: helm plugin install functions/helm/ray-tls):
  helm install REL CHART -n NS --post-renderer ray-tls --post-renderer-args=--namespace=NS

Give the post-renderer on every helm upgrade too. Helm 3 does not post-render hooks and
tests; Helm 4 does. An empty input is an error. Under Helm 4 an error shows in Helm's own
message: YAML parse error on ray-tls failed, nothing was rendered: <the error>.`;

/** The annotation by which Helm 4 names a document's source file (and removes afterwards). */
export const FILENAME_ANNOTATION = 'postrenderer.helm.sh/postrender-filename';

// Helm 3's `template --output-dir` writes the files first, without the post-renderer, then sends it nothing.
const EMPTY =
  'error: stdin is empty: expected the manifests Helm rendered. `helm template --output-dir` (Helm 3) writes ' +
  'its files without running the post-renderer: those files have no TLS; render to stdout instead';

export interface HelmArgs {
  namespace?: string;
  config?: string;
  settings: Record<string, string>;
}

export function parseHelmArgs(argv: string[]): HelmArgs | string {
  const parsed = parseFlags(argv, { namespace: { type: 'string' }, config: { type: 'string' } }, true);
  if (typeof parsed === 'string') return parsed;
  const { namespace, config } = parsed.values as { namespace?: string; config?: string };
  const badNamespace = namespaceError(namespace);
  if (badNamespace) return badNamespace;
  const settings: Record<string, string> = {};
  for (const arg of parsed.positionals) {
    const eq = arg.indexOf('=');
    if (eq <= 0) return `unexpected argument ${arg}: config fields are KEY=VALUE, such as mode=pod-dns`;
    settings[arg.slice(0, eq)] = arg.slice(eq + 1);
  }
  return { ...(namespace && { namespace }), ...(config && { config }), settings };
}

export interface HelmIo {
  stdin: () => string;
  readFile: (path: string) => string;
  env: Record<string, string | undefined>;
}

/** The plugin's name in functions/helm/ray-tls/plugin.yaml; Helm 4 runs it with HELM_PLUGIN_NAME set to it. */
export const PLUGIN_NAME = 'ray-tls';

/**
 * One run as Helm's post-renderer: what to print and the exit status. Under Helm 4 our own
 * plugin's name is in HELM_PLUGIN_NAME; another name there is a Helm 3 plugin (helm-diff, say)
 * that runs Helm 3, which shows stderr.
 */
export function helmCommand(argv: string[], io: HelmIo): { stdout: string; stderr: string; exitCode: number } {
  const underPlugin = io.env.HELM_PLUGIN_NAME === PLUGIN_NAME;
  let out: Printed;
  try {
    out = postRender(argv, io, underPlugin);
  } catch (e) {
    out = { stdout: '', stderr: [internalErrorText(e, io.env.RAY_TLS_DEBUG === '1').trimEnd()], exitCode: 70 };
  }
  const stderr = out.stderr.map((l) => `${l}\n`).join('');
  if (out.exitCode === 0 || !underPlugin) return { ...out, stderr };
  // Helm 4 drops a failed plugin's stderr: succeed with a document that fails Helm's render instead.
  const errors = out.stderr.filter((l) => l.startsWith('error'));
  return { stdout: errorDocument(errors.length ? errors : out.stderr), stderr, exitCode: 0 };
}

type Printed = Pick<RunOutput, 'stdout' | 'stderr' | 'exitCode'>;

function postRender(argv: string[], io: HelmIo, underPlugin: boolean): Printed {
  const args = parseHelmArgs(argv);
  if (typeof args === 'string') return { stdout: '', stderr: [`error: ${args} (ray-tls helm --help)`], exitCode: 2 };
  let config: string | undefined;
  if (args.config !== undefined) {
    try {
      config = io.readFile(args.config);
    } catch (e) {
      return {
        stdout: '',
        stderr: [`error: cannot read the config file ${args.config}: ${(e as Error).message}`],
        exitCode: 2,
      };
    }
  }
  const input = io.stdin();
  if (!input.trim()) return { stdout: '', stderr: [EMPTY], exitCode: 1 };
  return runStream(input, {
    config,
    settings: args.settings,
    namespace: args.namespace ? { release: args.namespace } : { ask: true },
    ...(underPlugin && { newAnnotations: { [FILENAME_ANNOTATION]: newFileName(input) } }),
  });
}

/** The file Helm 4 shows the new documents under: beside the chart's own templates' files. */
function newFileName(input: string): string {
  const chart = new RegExp(`${FILENAME_ANNOTATION}:[ \\t]*['"]?([^/'"\\s]+)/`).exec(input)?.[1];
  return chart ? `${chart}/ray-tls.yaml` : 'ray-tls.yaml';
}

const MAX_ERRORS = 3;
const ALL_ERRORS = 'helm template ... | ray-tls helm --namespace=NS > /dev/null shows them all';

/**
 * A document Helm 4 rejects with "YAML parse error on <its file name>: ...", its kind being no
 * string: the one place Helm shows text of ours. No other document goes out with it.
 */
export function errorDocument(lines: string[]): string {
  const more = lines.length > MAX_ERRORS ? [`and ${lines.length - MAX_ERRORS} more error(s): ${ALL_ERRORS}`] : [];
  const name = `ray-tls failed, nothing was rendered: ${[...lines.slice(0, MAX_ERRORS), ...more].join('; ')}`;
  return [
    '# ray-tls failed: this document stops the Helm render on purpose; the error is its file name.',
    'apiVersion: ray-tls.io/v1alpha1',
    'kind: [RayTLSError]',
    'metadata:',
    '  name: ray-tls-error',
    '  annotations:',
    `    ${FILENAME_ANNOTATION}: ${JSON.stringify(name)}`,
    '',
  ].join('\n');
}
