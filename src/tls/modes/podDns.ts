// pod-dns: every Ray node advertises a DNS name for its pod IP
// (`10-244-7-2.NAMESPACE.pod.CLUSTER_DOMAIN`), so that one certificate with a wildcard SAN
// names every node and no pod holds a CA key. Ray has no environment variable for the node
// address: `ray start` needs the flag (KubeRay: rayStartParams).
import { isMap, type Node, type YAMLMap } from 'yaml';
import { about } from '../../krm/results.js';
import { fieldPath, groupPath } from '../../ray/kinds.js';
import { argvOf, findRayStart, isPodIp, podIpVars, shellCommands, shellScript } from '../../ray/rayStart.js';
import { type Json, mapsOf } from '../../yaml/json.js';
import { toJson } from '../../yaml/read.js';
import type { Target } from '../../yaml/upsert.js';
import { leafCertificate } from '../certificates.js';
import { secretSource, VOLUME } from '../pod.js';
import type { CertificateMode, NodeEdit } from './mode.js';

export const POD_IP_ENV = 'RAY_TLS_POD_IP';
export const POD_NAMESPACE_ENV = 'RAY_TLS_POD_NAMESPACE';
/** The one node certificate of a namespace (wildcard pod DNS SAN). */
export const NODES_CERT = 'ray-tls-nodes';
const FLAG = '--node-ip-address';

/** The shell expression of the pod's DNS name; dots and colons of the IP become dashes. */
export function podDnsName(clusterDomain: string): string {
  return `$(echo "$${POD_IP_ENV}" | tr .: --).$${POD_NAMESPACE_ENV}.pod.${clusterDomain}`;
}

/** The wrapper for exec-form commands: `sh -c WRAPPER ray-tls ray start ...`. */
export function execWrapper(clusterDomain: string): string {
  return (
    `# ray-tls pod-dns: advertise this pod's DNS name, which the node certificate covers\nexec "$@" ` +
    `${FLAG}="${podDnsName(clusterDomain)}"`
  );
}

export const podDnsEnv = (): Json[] => [
  { name: POD_IP_ENV, valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
  { name: POD_NAMESPACE_ENV, valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
];

export type Rewrite = { command: string[]; args: string[] } | { error: string } | 'done' | 'none';

const ALREADY =
  `\`ray start\` already sets ${FLAG}; in pod-dns mode the node must advertise its pod DNS name: ` + `remove the flag`;
/** `--node-ip-address=VALUE` or `--node-ip-address VALUE` in a script, VALUE maybe quoted. */
const FLAG_IN_SCRIPT = /--node-ip-address(?:=|[ \t]+)(["']?)(\$\{\w+\}|\$\(\w+\)|\$\w+|\$\(hostname -i\))\1/g;

/** The argv with `script` replaced, split back as the kubelet had it (the shell and its options in command). */
function withScript(command: Json | undefined, argv: string[], script: number, text: string) {
  const cut = Array.isArray(command) ? Math.min(command.length, script) : 0;
  const next = [...argv.slice(0, script), text, ...argv.slice(script + 1)];
  return { command: next.slice(0, cut), args: next.slice(cut) };
}

/** Inserts the flag at each offset of a script (after `ray start`, or after $KUBERAY_GEN_RAY_START_CMD). */
function insertFlag(script: string, ends: number[], clusterDomain: string): string {
  let out = script;
  for (const end of [...ends].sort((a, b) => b - a))
    out = `${out.slice(0, end)} ${FLAG}="${podDnsName(clusterDomain)}"${out.slice(end)}`;
  return out;
}

/**
 * How to make a container's `ray start` advertise the pod DNS name: exec-form commands get
 * the wrapper, shell scripts the flag after each `ray start`. A flag whose value is the pod
 * IP (an env var from status.podIP, named in `podIp`) gives way to the DNS name.
 */
export function rewriteRayStart(
  command: Json | undefined,
  args: Json | undefined,
  clusterDomain: string,
  podIp: Set<string> = new Set(),
): Rewrite {
  const start = findRayStart(command, args);
  if (!start) return 'none';
  const { argv } = start;
  const ours = `${FLAG}="${podDnsName(clusterDomain)}"`;
  if (start.form === 'shell') {
    const script = argv[start.script];
    if (script.includes(podDnsName(clusterDomain))) return 'done';
    const rewritten = script.replace(FLAG_IN_SCRIPT, (m, _q, value) => (isPodIp(value, podIp) ? ours : m));
    if (rewritten.split(ours).join('').includes(FLAG)) return { error: ALREADY };
    const text = rewritten !== script ? rewritten : insertFlag(script, start.ends, clusterDomain);
    return withScript(command, argv, start.script, text);
  }
  if (shellScript(argv) !== undefined && argv[shellScript(argv)!] === execWrapper(clusterDomain)) return 'done';
  const kept = argv.filter((a, i) => {
    if (a.startsWith(`${FLAG}=`)) return !isPodIp(a.slice(FLAG.length + 1), podIp);
    if (a === FLAG) return !isPodIp(argv[i + 1] ?? '', podIp);
    return !(argv[i - 1] === FLAG && isPodIp(a, podIp));
  });
  if (kept.some((a) => a === FLAG || a.startsWith(`${FLAG}=`))) return { error: ALREADY };
  return { command: ['sh', '-c', execWrapper(clusterDomain), 'ray-tls'], args: kept };
}

const GENERATED = 'KUBERAY_GEN_RAY_START_CMD';
const GENERATED_WORD = /^\$(KUBERAY_GEN_RAY_START_CMD|\{KUBERAY_GEN_RAY_START_CMD\})$/;
const GENERATED_FORMS = `\`$${GENERATED}\` or \`eval "$${GENERATED}"\``;

/**
 * ray.io/overwrite-container-cmd: KubeRay runs the container's own command and hands it the
 * generated `ray start` in $KUBERAY_GEN_RAY_START_CMD. The DNS name goes after that expansion
 * in the script: it then works with `eval` and without (a `$(...)` inside the variable would
 * reach a plain expansion as broken words). A container that runs `ray start` itself is
 * rewritten as any workload is.
 */
export function rewriteGeneratedStart(
  command: Json | undefined,
  args: Json | undefined,
  clusterDomain: string,
  podIp: Set<string> = new Set(),
): Rewrite {
  const argv = argvOf(command, args);
  const at = shellScript(argv);
  const script = at === undefined ? '' : argv[at];
  if (script.includes(podDnsName(clusterDomain))) return 'done';
  const ends: number[] = [];
  for (const words of shellCommands(script)) {
    const i = words[0]?.text === 'eval' ? 1 : 0;
    if (GENERATED_WORD.test(words[i]?.text ?? '')) ends.push(words[i].end);
  }
  if (ends.length && at !== undefined) return withScript(command, argv, at, insertFlag(script, ends, clusterDomain));
  if (argv.some((a) => a.includes(GENERATED)))
    return {
      error:
        `ray.io/overwrite-container-cmd: ray-tls adds ${FLAG} where the script runs ${GENERATED_FORMS} as a ` +
        'command, and this one uses it otherwise; run it in one of those forms',
    };
  const own = rewriteRayStart(command, args, clusterDomain, podIp);
  if (own !== 'none') return own;
  return {
    error:
      "ray.io/overwrite-container-cmd: KubeRay runs this container's own command, which neither runs `ray start` " +
      `nor ${GENERATED_FORMS} where ray-tls can see it; run one of them in the command (sh -c SCRIPT)`,
  };
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
  const c = shellScript(argv);
  if (c !== undefined) {
    const script = argv[c];
    if (script.includes(name) || !LOOPBACK_IN_SCRIPT.test(script)) return undefined;
    const rewritten = script.replace(
      new RegExp(LOOPBACK_IN_SCRIPT.source, 'g'),
      (_m, _q, port) => `--address="${name}${port}"`,
    );
    return [...argv.slice(0, c), rewritten, ...argv.slice(c + 1)];
  }
  const at = argv.findIndex((a) => LOOPBACK_ADDRESS.test(a));
  if (at === -1) return undefined;
  const port = LOOPBACK_ADDRESS.exec(argv[at])![1];
  return [
    'sh',
    '-c',
    `exec ${argv.map((a, i) => (i === at ? `--address="${name}${port}"` : shellQuote(a))).join(' ')}`,
  ];
}

/** The rayStartParams entry for KubeRay, which runs `ray start --KEY=VALUE` in a shell. */
export const kubeRayNodeAddress = (clusterDomain: string): [string, string] => [
  'node-ip-address',
  podDnsName(clusterDomain),
];

/** KubeRay runs Ray in a group's first container from rayStartParams: the address goes there. */
function advertiseKubeRay(edit: NodeEdit, clusterDomain: string): void {
  const { target: t, pod: p } = edit;
  const group = edit.group!;
  const [key, value] = kubeRayNodeAddress(clusterDomain);
  const params = group.get('rayStartParams', true) as Node | undefined;
  const groupField = fieldPath(groupPath(p.ref));
  if (!isMap(params)) {
    if (params === undefined) t.editor.addPair(group, 'rayStartParams', { [key]: value });
    else if (toJson(params, t.doc) === null) t.editor.fillEmpty(group, 'rayStartParams', { [key]: value });
    else
      t.conflicts.push({
        field: `${groupField}.rayStartParams`,
        current: toJson(params, t.doc),
        proposed: { [key]: value },
        message: 'rayStartParams must be a mapping',
      });
    return;
  }
  const node = params.get(key, true) as Node | undefined;
  const current = toJson(node, t.doc);
  const podIp = podIpVars(p.pod.containers[0]?.env);
  if (current === undefined) t.editor.addPair(params, key, value);
  // The pod IP from the downward API (`$MY_POD_IP`): the DNS name of that same IP takes its place.
  else if (typeof current === 'string' && isPodIp(current, podIp)) t.editor.replace(node!, value, !!params.flow);
  else if (current !== value) {
    const message =
      'rayStartParams already sets node-ip-address; in pod-dns mode the node must advertise its pod DNS name';
    t.conflicts.push({
      field: `${groupField}.rayStartParams.${key}`,
      current,
      proposed: value,
      message,
      fix: ': remove it',
    });
  }
}

/**
 * KubeRay gives a head's Ray container RAY_ADDRESS=127.0.0.1:PORT unless it has one. A driver
 * using it fails in pod-dns (Ray swaps loopback for the pod IP, which the certificate does not
 * name); `auto` finds the cluster as the head advertised it, by its DNS name.
 */
function headAddress(edit: NodeEdit): Json[] {
  const ray = edit.pod.pod.containers[0];
  if (edit.pod.ref.kuberay !== 'head' || mapsOf(ray?.env).some((e) => e.name === 'RAY_ADDRESS')) return [];
  return [{ name: 'RAY_ADDRESS', value: 'auto' }];
}

const rewriteOwn = (form: 'own' | 'overwrite') => (form === 'overwrite' ? rewriteGeneratedStart : rewriteRayStart);

/** Makes a container that runs `ray start` advertise its pod DNS name; true when it does. */
function advertise(t: Target, c: YAMLMap, field: string, clusterDomain: string, how = rewriteRayStart): boolean {
  const command = c.get('command', true) as Node | undefined;
  const args = c.get('args', true) as Node | undefined;
  const vars = podIpVars(toJson(c.get('env', true) as Node | undefined, t.doc));
  const rewrite = how(toJson(command, t.doc), toJson(args, t.doc), clusterDomain, vars);
  if (rewrite === 'none') return false;
  aimProbes(t, c, clusterDomain);
  if (rewrite === 'done') return true;
  if ('error' in rewrite) {
    t.conflicts.push({
      field: `${field}.command`,
      current: toJson(command, t.doc),
      proposed: toJson(command, t.doc) ?? null,
      message: rewrite.error,
      fix: '',
    });
    return true;
  }
  for (const [key, node] of [
    ['command', command],
    ['args', args],
  ] as const) {
    const value = rewrite[key];
    if (node !== undefined) t.editor.replace(node, value, !!c.flow);
    else if (value.length) t.editor.addPair(c, key, value);
  }
  return true;
}

/** Health-check probes at 127.0.0.1 would meet the pod IP, which the certificate lacks. */
function aimProbes(t: Target, c: YAMLMap, clusterDomain: string): void {
  for (const kind of ['readinessProbe', 'livenessProbe', 'startupProbe']) {
    const exec = c.getIn([kind, 'exec'], true);
    if (!isMap(exec)) continue;
    const command = exec.get('command', true) as Node | undefined;
    const rewritten = rewriteProbe(toJson(command, t.doc), clusterDomain);
    if (command && rewritten) t.editor.replace(command, rewritten, !!exec.flow);
  }
}

export const podDns: CertificateMode = {
  name: 'pod-dns',
  summary: 'one wildcard certificate, nodes advertise pod DNS names',
  help: 'one wildcard certificate per namespace; nodes advertise pod DNS names',
  namespaceCertificates({ namespace, nodes, serviceDnsNames, generatedHeads }, settings) {
    if (!nodes.length) return { certificates: [], results: [] };
    if (namespace === undefined) {
      const message =
        'pod-dns mode names nodes <ip>.<namespace>.pod.<cluster domain>: set metadata.namespace (or run after the ' +
        'step that sets it)';
      return {
        certificates: [],
        results: nodes.map((p) => about(p.resource, 'error', message, { path: 'metadata.namespace' })),
      };
    }
    // Exact names before the wildcard: gRPC tries SANs in order (docs/design.md §5.1).
    const dnsNames = [...serviceDnsNames, 'localhost', `*.${namespace}.pod.${settings.clusterDomain}`];
    // A head Service named at run time (<cluster>-head-svc): workers dial its full name, which this covers.
    if (generatedHeads.length) dnsNames.push(`*.${namespace}.svc.${settings.clusterDomain}`);
    const usages = ['server auth', 'client auth'] as const;
    return {
      certificates: [
        leafCertificate(
          { name: NODES_CERT, namespace, usages: [...usages], dnsNames, ipAddresses: ['127.0.0.1'] },
          settings.leaf,
          settings.caIssuer,
        ),
      ],
      results: [],
    };
  },
  nodeSecret: () => NODES_CERT,
  nodeVolume: 'secret',
  nodeVolumes: (_settings, pod) => [{ name: VOLUME, secret: secretSource(NODES_CERT, pod.secretMode) }],
  containerEnv(edit, c, index, field, settings) {
    if (edit.pod.kubeRayGroup) {
      if (index !== 0) return [];
      const form = edit.pod.kubeRayStart;
      if (form === 'generated' || form === undefined) advertiseKubeRay(edit, settings.clusterDomain);
      else if (!advertise(edit.target, c, field, settings.clusterDomain, rewriteOwn(form))) {
        const message =
          'KubeRay sees the text `ray start` in this command and so starts none itself, but ray-tls finds no ' +
          '`ray start` the command runs; run `ray start` in it (sh -c SCRIPT), or drop the text';
        edit.target.conflicts.push({ field: `${field}.command`, current: null, proposed: null, message, fix: '' });
      }
      return [...podDnsEnv(), ...headAddress(edit)];
    }
    return advertise(edit.target, c, field, settings.clusterDomain) ? podDnsEnv() : [];
  },
  describeNode: (settings) =>
    `advertises its pod DNS name and mounts the namespace's node certificate at ${settings.mountPath}`,
  recognises: (p) => p.pod.containers.some((c) => mapsOf(c.env).some((e) => e.name === POD_IP_ENV)),
  validateNode: () => [],
};
