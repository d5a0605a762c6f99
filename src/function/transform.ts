// The transforming run over decoded items, in three steps: survey (read the resources, find
// the Ray pods and the Services), apply (each namespace's certificates, each pod's TLS), and
// report (what happened, or nothing changed when anything failed). Pure: no I/O.

import type { YAMLMap } from 'yaml';
import { isResource, type Resource, readResource } from '../krm/resource.js';
import type { Item } from '../krm/resourceList.js';
import { about, type Result } from '../krm/results.js';
import { RAY_CONTAINERS_ANNOTATION } from '../ray/containers.js';
import { fieldPath } from '../ray/kinds.js';
import { findRayPods, type RayPod, type Role, SKIP_ANNOTATION, selects } from '../ray/pods.js';
import { literalTokenWarnings, NO_AUTH_WARNING, TOKEN_DIR, TOKEN_PATH_VAR } from '../tls/auth.js';
import { caChain, leafCertificate, serviceDnsNames } from '../tls/certificates.js';
import { type PodFacts, podFacts } from '../tls/facts.js';
import { kubeRayAuth } from '../tls/kubeRayAuth.js';
import { rotationOrder } from '../tls/rotation.js';
import type { Json } from '../yaml/json.js';
import { toJson } from '../yaml/read.js';
import { inject } from './inject.js';
import { type Placement, reconcileManaged } from './managed.js';
import { sanNameErrors } from './names.js';
import type { Namespacing, Plan } from './plan.js';
import { keyMaterialResult } from './validate.js';

export type { Placement } from './managed.js';

export interface Outcome {
  newItems: Json[];
  /** Positions of items to drop (ray-tls resources no longer wanted). */
  dropped: Set<number>;
  results: Result[];
}

interface Survey {
  entries: { item: Item; resource: Resource }[];
  /** Each Ray pod with what is decided about it, once. */
  pods: PodFacts<Item>[];
  results: Result[];
}

/**
 * The items that are Kubernetes resources, as plain values (in the release namespace when they
 * name none and one is known), and a result for each that is not.
 */
export function readResources(
  items: Item[],
  namespacing?: Namespacing,
): { entries: { item: Item; resource: Resource }[]; results: Result[] } {
  const entries: { item: Item; resource: Resource }[] = [];
  const results: Result[] = [];
  for (const item of items) {
    const read = readResource(item.value ?? toJson(item.node, item.doc));
    if (isResource(read)) {
      read.metadata.namespace ??= namespacing?.release;
      entries.push({ item, resource: read });
    } else
      results.push({
        severity: 'error',
        message: `items[${item.position}] ${read.problem}`,
        ...(read.field && { field: { path: read.field } }),
      });
  }
  return { entries, results };
}

export function transform(items: Item[], plan: Plan, placement?: Placement): Outcome {
  const survey = surveyItems(items, plan);
  const { wanted, results } = apply(survey, plan);
  const managed = reconcileManaged(survey.entries, plan.certManager ? wanted : [], results, placement);
  return report(survey, { ...managed, results: [...survey.results, ...results] }, plan);
}

function surveyItems(items: Item[], plan: Plan): Survey {
  const { entries, results } = readResources(items, plan.namespace);
  for (const { resource } of entries) {
    const leaked = keyMaterialResult(resource, 'warning');
    if (leaked) results.push(leaked);
    results.push(...literalTokenWarnings(resource));
  }
  const services = entries.flatMap(({ resource: r }): ServiceFacts[] =>
    r.kind === 'Service' && r.apiVersion === 'v1'
      ? [{ name: r.metadata.name, namespace: r.metadata.namespace, selector: selectorOf(r) }]
      : [],
  );
  const found = findRayPods(
    entries.map(({ item, resource }) => ({ resource, source: item })),
    plan.clientSelector,
  );
  const { notes } = found;
  const selecting = selectingServices(services);
  const pods = found.pods.map((p) => podFacts(p, selecting(p), plan.pods));
  const order = plan.ca.noOverlap
    ? []
    : rotationOrder(
        pods,
        entries.map((e) => e.resource),
        plan.pods.caSecret,
      );
  const names = sanNameErrors(
    entries.map((e) => e.resource),
    pods,
  );
  const unsure = plan.namespace?.ask ? namespaceUnknown(pods) : [];
  return { entries, pods, results: [...results, ...notes, ...names, ...unsure, ...order, ...podWarnings(pods, plan)] };
}

interface ServiceFacts {
  name: string;
  namespace: string | undefined;
  selector: Record<string, string>;
}

/**
 * The names of the Services of a pod's namespace that select it, in input order. Indexed by
 * namespace and one selector entry: a list with thousands of Services and Ray pods would
 * otherwise compare every pair (docs/design.md §6).
 */
function selectingServices(services: ServiceFacts[]): (p: RayPod) => string[] {
  const index = new Map<string | undefined, Map<string, number[]>>();
  services.forEach((s, at) => {
    const first = Object.entries(s.selector)[0];
    if (!first) return; // an empty selector selects nothing
    const byEntry = index.get(s.namespace) ?? new Map<string, number[]>();
    index.set(s.namespace, byEntry);
    const key = JSON.stringify([first[0], String(first[1])]);
    const same = byEntry.get(key);
    if (same) same.push(at);
    else byEntry.set(key, [at]);
  });
  return (p) => {
    const byEntry = index.get(p.resource.metadata.namespace);
    if (!byEntry) return [];
    const labels = p.pod.labels;
    const candidates = Object.keys(labels).flatMap((k) => byEntry.get(JSON.stringify([k, labels[k]])) ?? []);
    return candidates
      .sort((a, b) => a - b)
      .filter((at) => selects(services[at].selector, labels))
      .map((at) => services[at].name);
  };
}

/** Ray pods without a namespace beside Ray pods with one: they may all be in one namespace, with one CA chain. */
function namespaceUnknown(pods: RayPod[]): Result[] {
  const named = [...new Set(pods.flatMap((p) => p.resource.metadata.namespace ?? []))];
  if (!named.length) return [];
  const unnamed = new Set(pods.filter((p) => p.resource.metadata.namespace === undefined).map((p) => p.resource));
  const message =
    `no metadata.namespace, beside Ray pods in ${named.join(', ')}: ray-tls cannot tell the namespace Helm ` +
    'puts it in; pass the release namespace: --namespace=NAMESPACE (in Helm: ' +
    '--post-renderer-args=--namespace=NAMESPACE)';
  return [...unnamed].map((r) => about(r, 'error', message, { path: 'metadata.namespace' }));
}

/** What ray-tls cannot fix in a pod but its user should know. */
function podWarnings(pods: PodFacts[], plan: Plan): Result[] {
  const out: Result[] = [];
  for (const p of pods) {
    if (p.role === 'node') out.push(...(plan.mode.warnNode?.(p) ?? []));
    if (p.pod.hostNetwork && p.role === 'node') {
      const message =
        `${p.ref.where}: hostNetwork: true: this Ray node's address is its Kubernetes node's IP, so ` +
        `its certificate names that IP, and any pod on that node with hostNetwork shares it; run Ray pods on the pod ` +
        `network`;
      out.push(about(p.resource, 'warning', message, { path: `${fieldPath(p.ref.path)}.spec.hostNetwork` }));
    }
  }
  return out;
}

const selectorOf = (r: Resource): Record<string, string> => {
  const s = (r.spec as Record<string, Json> | undefined)?.selector;
  return s && typeof s === 'object' && !Array.isArray(s) ? (s as Record<string, string>) : {};
};

/** Each namespace's CA chain and shared certificates, and each pod's TLS through the editor. */
function apply(survey: Survey, plan: Plan): { wanted: Json[]; results: Result[] } {
  const wanted: Json[] = [];
  const results: Result[] = [];
  const settings = plan.pods;
  if (settings.authToken) results.push(...authOptions(survey, settings.authToken));
  for (const [namespace, pods] of byNamespace(survey.pods)) {
    wanted.push(...caChain(namespace, plan.ca));
    const nodes = pods.filter((p) => p.role === 'node');
    const serviceNames = [...new Set(nodes.flatMap((p) => p.services))].flatMap((s) =>
      serviceDnsNames(s, namespace, settings.clusterDomain),
    );
    const generatedHeads = nodes.filter((p) => p.generatedHead);
    const shared = plan.mode.namespaceCertificates(
      { namespace, nodes, serviceDnsNames: serviceNames, generatedHeads },
      settings,
    );
    wanted.push(...shared.certificates);
    results.push(...shared.results);
    for (const p of pods) {
      if (p.role === 'client') wanted.push(clientCertificate(p.clientSecret, namespace, plan));
      results.push(...injected(p, plan));
    }
  }
  return { wanted, results };
}

const clientCertificate = (name: string, namespace: string | undefined, { pods: settings }: Plan): Json =>
  leafCertificate({ name, namespace, usages: ['client auth'] }, settings.leaf, settings.caIssuer);

/** Injects TLS into the pod: an error result per conflict, or the result that reports the pod. */
function injected(p: PodFacts<Item>, plan: Plan): Result[] {
  const conflicts = inject(p, plan);
  if (!conflicts.length)
    return [about(p.resource, 'info', `${p.ref.where}: Ray ${p.role} (${p.why}); ${describe(p, plan)}`)];
  return conflicts.map((c) => {
    const fix = c.fix ?? `; ray-tls needs ${JSON.stringify(c.proposed)}. Remove or rename the entry`;
    const skip = `, or annotate the resource with ${SKIP_ANNOTATION}: "true" to leave it alone`;
    return about(p.resource, 'error', `${c.message}${fix}${skip}`, {
      path: c.field,
      ...(c.current !== undefined && { currentValue: c.current }),
      proposedValue: c.proposed,
    });
  });
}

/** `auth: token` on KubeRay clusters: authOptions in each cluster spec that has Ray pods here. */
function authOptions(survey: Survey, secret: { name: string; key: string }): Result[] {
  const results: Result[] = [];
  const withPods = new Set(survey.pods.map((p) => p.source));
  for (const { item, resource } of survey.entries.filter((e) => withPods.has(e.item))) {
    const decision = kubeRayAuth(resource, secret);
    if (!decision) continue;
    results.push(...decision.results);
    if (decision.add && !decision.results.some((r) => r.severity === 'error')) {
      const spec = item.node.getIn(decision.add.path, true) as YAMLMap;
      item.editor.addPair(spec, 'authOptions', decision.add.value);
    }
  }
  return results;
}

function byNamespace(pods: PodFacts<Item>[]): Map<string | undefined, PodFacts<Item>[]> {
  const groups = new Map<string | undefined, PodFacts<Item>[]>();
  for (const p of pods) {
    const group = groups.get(p.resource.metadata.namespace);
    if (group) group.push(p);
    else groups.set(p.resource.metadata.namespace, [p]);
  }
  return groups;
}

/** The results of the run; on any error, nothing changes. */
function report(survey: Survey, outcome: Outcome, plan: Plan): Outcome {
  const { pods } = survey;
  const results = outcome.results;
  if (!plan.certManager && pods.length) {
    const secrets = [
      ...new Set(pods.map((p) => (p.role === 'client' ? p.clientSecret : plan.mode.nodeSecret(plan.pods)))),
    ];
    results.push({
      severity: 'info',
      message:
        `certManager: false: create these Secrets in each namespace before the pods start (ray-tls certs ` +
        `prints the commands): ${secrets.join(', ')}`,
    });
  }
  if (pods.length) results.push(...lifetimes(plan));
  if (results.some((r) => r.severity === 'error')) return { newItems: [], dropped: new Set(), results };
  if (!pods.length)
    results.push({
      severity: 'info',
      message: 'no Ray pods found: nothing changed (a Ray node runs `ray start`; a client sets a ray:// address)',
    });
  else {
    const count = (role: Role) => pods.filter((p) => p.role === role).length;
    results.push({
      severity: 'info',
      message:
        `ray-tls (${plan.mode.name}): ${count('node')} Ray node pod template(s), ${count('client')} client ` +
        `pod template(s), ${outcome.newItems.length} new resource(s)`,
    });
  }
  return { ...outcome, results };
}

/** What the run means for the cluster over time: the lifetimes, the trust, the HTTP side door. */
function lifetimes(plan: Plan): Result[] {
  const { leaf, trust, authToken } = plan.pods;
  const info = (message: string): Result => ({ severity: 'info', message });
  const modeNote = plan.mode.lifetimeNote?.(plan.pods) ?? '';
  return [
    // The warning first: kpt shows the first few results only.
    ...(authToken ? [] : [{ severity: 'warning' as const, message: NO_AUTH_WARNING }]),
    info(
      `${modeNote}cert-manager renews leaves ${leaf.renewBefore} before they expire and the CA ` +
        `${plan.ca.renewBefore} before its own, keeping its key. Ray reads its files once at start: restart ` +
        `every Ray pod within ${leaf.duration} (kubectl rollout restart), and after each renewal`,
    ),
    ...(trust.length || plan.pods.caUnderRoot ? [info(trustMessage(plan.pods))] : []),
    ...(authToken
      ? [
          info(
            `token authentication: every Ray process reads the token from the file ${TOKEN_PATH_VAR} ` +
              `(${TOKEN_DIR}/${authToken.key}), mounted from Secret ${authToken.name} (key ${authToken.key}) into ` +
              'the containers that talk to Ray only (KubeRay clusters: through authOptions); create it in each ' +
              'namespace before the pods start (ray-tls token)',
          ),
        ]
      : []),
  ];
}

/** What every pod trusts, when it is more than the ca.crt of a self-signed CA's Secret (README: What a pod trusts). */
function trustMessage({ caSecret, trust, caUnderRoot }: Plan['pods']): string {
  const secrets = [caSecret, ...trust];
  const what =
    `the CA certificate${secrets.length > 1 ? 's' : ''} of Secret${secrets.length > 1 ? 's' : ''} ` +
    `${secrets.join(', ')} and nothing else (the first certificate of each tls.crt`;
  const root = caUnderRoot
    ? "; never the root in ca.crt nor the intermediates above, which every other namespace's CA shares)"
    : ')';
  const rotation = trust.length ? `; CA rotation: ${caSecret} signs (README: Rotation)` : '';
  return `trust: every Ray pod and client trusts ${what}${root}${rotation}`;
}

function describe(p: PodFacts, plan: Plan): string {
  const what =
    p.role === 'client' ? `mounts its client certificate at ${plan.pods.mountPath}` : plan.mode.describeNode(plan.pods);
  const also = p.autoscaler
    ? `; the in-tree autoscaler gets the TLS env and mount through ${fieldPath(p.autoscaler)}`
    : '';
  return what + also + containersNote(p);
}

/** Which containers got the TLS files (and the token), and which got nothing (least material). */
function containersNote({ rayContainers: { ray, others }, auth }: PodFacts): string {
  const files = `the TLS env and files${auth ? ' and the token file' : ''}`;
  const none = others.length
    ? `; nothing to ${others.join(', ')} (no sign of Ray; annotation ${RAY_CONTAINERS_ANNOTATION} adds one)`
    : '';
  return `; ${files} go to ${[...ray].join(', ')}${none}`;
}
