// The pod-dns mode: every Ray node advertises a DNS name for its pod IP
// (`10-244-7-2.NAMESPACE.pod.CLUSTER_DOMAIN`), so that one certificate with a
// wildcard SAN names every node and no pod holds a CA key. Ray has no
// environment variable for the node address: `ray start` needs the flag.
import type { Json } from '../../yaml/edit.js';

export const POD_IP_ENV = 'RAY_TLS_POD_IP';
export const POD_NAMESPACE_ENV = 'RAY_TLS_POD_NAMESPACE';
const FLAG = '--node-ip-address';

/** The shell expression of the pod's DNS name; dots and colons of the IP become dashes. */
export function podDnsName(clusterDomain: string): string {
  return `$(echo "$${POD_IP_ENV}" | tr .: --).$${POD_NAMESPACE_ENV}.pod.${clusterDomain}`;
}

/** The wrapper for exec-form commands: `sh -c WRAPPER ray-tls ray start ...`. */
export function execWrapper(clusterDomain: string): string {
  return `# ray-tls pod-dns: advertise this pod's DNS name, which the node certificate covers\nexec "$@" ${FLAG}="${podDnsName(clusterDomain)}"`;
}

export const podDnsEnv = (): Json[] => [
  { name: POD_IP_ENV, valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
  { name: POD_NAMESPACE_ENV, valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
];

export type Rewrite = { command: string[]; args: string[] } | { error: string } | 'done' | 'none';

const RAY_START = /\bray\s+start\b/;
const SHELLS = /^(sh|bash|dash|ash|zsh)$/;

/**
 * How to make a container's `ray start` advertise the pod DNS name:
 * exec-form commands get the wrapper, `sh -c` scripts the flag after each `ray start`.
 */
export function rewriteRayStart(command: Json | undefined, args: Json | undefined, clusterDomain: string): Rewrite {
  const argv = [...(Array.isArray(command) ? command : []), ...(Array.isArray(args) ? args : [])].map(String);
  if (!argv.some((a, i) => RAY_START.test(a) || (a === 'ray' && argv[i + 1] === 'start') || (/\/ray$/.test(a) && argv[i + 1] === 'start'))) return 'none';
  if (argv[0] === 'sh' && argv[1] === '-c' && argv[2] === execWrapper(clusterDomain)) return 'done';

  // A shell script: `sh -c SCRIPT` (or -lc, -ec ...), the script in command or args.
  if (SHELLS.test(argv[0]?.split('/').pop() ?? '')) {
    const c = argv.findIndex((a) => /^-[a-z]*c[a-z]*$/.test(a));
    const script = c > 0 ? argv[c + 1] : undefined;
    if (script === undefined || !RAY_START.test(script)) return { error: 'the shell runs `ray start` in a way ray-tls cannot rewrite; add --node-ip-address with the pod DNS name yourself, or use exec form' };
    if (script.includes(podDnsName(clusterDomain))) return 'done';
    if (script.includes(FLAG)) return { error: `\`ray start\` already sets ${FLAG}; in pod-dns mode the node must advertise its pod DNS name: remove the flag` };
    const rewritten = script.replace(new RegExp(RAY_START.source, 'g'), (m) => `${m} ${FLAG}="${podDnsName(clusterDomain)}"`);
    return { command: argv.slice(0, c + 1), args: [rewritten, ...argv.slice(c + 2)] };
  }
  // Exec form: ray start ..., possibly behind an env or tini wrapper.
  if (argv.some((a) => a === FLAG || a.startsWith(`${FLAG}=`))) return { error: `\`ray start\` already sets ${FLAG}; in pod-dns mode the node must advertise its pod DNS name: remove the flag` };
  return { command: ['sh', '-c', execWrapper(clusterDomain), 'ray-tls'], args: argv };
}

const LOOPBACK_ADDRESS = /^--address=(?:127\.0\.0\.1|localhost)(:\d+)$/;
const LOOPBACK_IN_SCRIPT = /--address[= ](["']?)(?:127\.0\.0\.1|localhost)(:\d+)\1/;
const shellQuote = (a: string) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);

/**
 * An exec probe that runs `ray health-check --address=127.0.0.1:PORT` fails in pod-dns mode:
 * Ray swaps a loopback address for the pod IP, which the wildcard certificate does not
 * name. Returns the probe command aimed at the pod DNS name, or undefined to leave it.
 */
export function rewriteProbe(command: Json | undefined, clusterDomain: string): string[] | undefined {
  if (!Array.isArray(command)) return undefined;
  const argv = command.map(String);
  if (!argv.some((a) => /\bhealth-check\b/.test(a))) return undefined;
  const name = podDnsName(clusterDomain);
  if (SHELLS.test(argv[0]?.split('/').pop() ?? '')) {
    const c = argv.findIndex((a) => /^-[a-z]*c[a-z]*$/.test(a));
    const script = c > 0 ? argv[c + 1] : undefined;
    if (script === undefined || script.includes(name) || !LOOPBACK_IN_SCRIPT.test(script)) return undefined;
    const rewritten = script.replace(new RegExp(LOOPBACK_IN_SCRIPT.source, 'g'), (_m, _q, port) => `--address="${name}${port}"`);
    return [...argv.slice(0, c + 1), rewritten, ...argv.slice(c + 2)];
  }
  const at = argv.findIndex((a) => LOOPBACK_ADDRESS.test(a));
  if (at === -1) return undefined;
  const port = LOOPBACK_ADDRESS.exec(argv[at])![1];
  return ['sh', '-c', `exec ${argv.map((a, i) => (i === at ? `--address="${name}${port}"` : shellQuote(a))).join(' ')}`];
}

/** The rayStartParams entry for KubeRay, which runs `ray start --KEY=VALUE` in a shell. */
export const kubeRayNodeAddress = (clusterDomain: string): [string, string] => ['node-ip-address', podDnsName(clusterDomain)];
