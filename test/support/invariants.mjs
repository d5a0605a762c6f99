// Invariants every run of ray-tls must keep, checked on ResourceList texts (plain Node ESM so
// that both scripts/corpus.mjs and the vitest tests import it without a build).
//
//   checkInvariants(input, output, secondOutput, exitCode) -> string[] (violations; [] = fine)
//
// - exit 0 or 1 only; exit 1 carries an error result; stdout is one valid ResourceList;
// - exit 0: every Ray container (a container whose command/args run `ray start`, the first
//   container of a KubeRay head or worker group, the in-tree autoscaler of a cluster with
//   enableInTreeAutoscaling) has RAY_USE_TLS=1, or a warning/error result names its resource;
// - exit 0: every input item is still there, and items that are not Ray items are unchanged
//   byte for byte (their source text);
// - the per-pod init container runs a Ray container's image (or the configured initImage);
// - a cluster with spec.tlsOptions.enabled (KubeRay's own mTLS) is left alone, with a warning;
// - no result advises headService.metadata.name for a RayService (KubeRay rejects it);
// - the second run (the output fed back in) leaves every item as the first run wrote it.
import { isMap, isSeq, parseDocument } from 'yaml';

const KUBERAY_KINDS = new Set(['RayCluster', 'RayJob', 'RayService', 'RayCronJob']);
// `ray start` at a command position of a shell line (after quoted text is removed, so that
// `echo 'do not ray start here'` is not a Ray node), or as exec-form words.
const RAY_START_SHELL = /(^|[;&|(\n]|\b(?:then|do|else|exec)\b)\s*(?:[\w./-]*\/)?ray\s+start\b/;

/** True when a container's command/args run `ray start`. */
export function runsRayStart(c) {
  if (!c || typeof c !== 'object') return false;
  const argv = [...(Array.isArray(c.command) ? c.command : []), ...(Array.isArray(c.args) ? c.args : [])].map((x) =>
    String(x),
  );
  for (let i = 0; i < argv.length; i++) {
    if (/^(?:.*\/)?ray$/.test(argv[i]) && argv[i + 1] === 'start') return true;
    const unquoted = argv[i].replace(/'[^']*'/g, "''").replace(/"(?:[^"\\]|\\.)*"/g, '""');
    if (RAY_START_SHELL.test(unquoted)) return true;
  }
  return false;
}

/**
 * Parses a ResourceList text.
 * @param {string} text
 * @returns {{ok: true, items: {node: any, js: any, source: string}[], results: any[]} | {ok: false, error: string}}
 */
export function readResourceList(text) {
  let doc;
  try {
    doc = parseDocument(text, { uniqueKeys: false });
  } catch (e) {
    return { ok: false, error: `unparsable: ${String(e).split('\n')[0]}` };
  }
  if (doc.errors.length > 0) return { ok: false, error: `invalid YAML: ${doc.errors[0].message.split('\n')[0]}` };
  if (!isMap(doc.contents)) return { ok: false, error: 'not a mapping' };
  const js = doc.toJS({ maxAliasCount: -1 });
  if (js?.kind !== 'ResourceList') return { ok: false, error: `kind is ${JSON.stringify(js?.kind)}, not ResourceList` };
  const itemsNode = doc.get('items', true);
  const items = [];
  if (itemsNode != null) {
    if (!isSeq(itemsNode)) return { ok: false, error: 'items is not a sequence' };
    for (const node of itemsNode.items) {
      const source = node && node.range ? text.slice(node.range[0], node.range[1]) : '';
      items.push({ node, js: node && typeof node.toJSON === 'function' ? node.toJSON() : node, source });
    }
  }
  return { ok: true, items, results: Array.isArray(js.results) ? js.results : [] };
}

/** "apiVersion|kind|namespace|name", the identity of an item. */
function identity(item) {
  const m = item && typeof item === 'object' ? item : {};
  const md = m.metadata && typeof m.metadata === 'object' ? m.metadata : {};
  return [m.apiVersion, m.kind, md.namespace ?? '', md.name ?? ''].map((v) => String(v)).join('|');
}

/** Identities made unique by their occurrence ("...#2" for the second item with the same identity). */
function keyed(items) {
  const seen = new Map();
  return items.map((it) => {
    const id = identity(it.js);
    const n = (seen.get(id) ?? 0) + 1;
    seen.set(id, n);
    return { key: n === 1 ? id : `${id}#${n}`, ...it };
  });
}

function annotations(item) {
  const a = item?.metadata?.annotations;
  return a && typeof a === 'object' ? a : {};
}

/**
 * Every Ray container in an item: {where, container} where container is the JS object (or
 * undefined when the template has none), found by a walk over the whole item.
 * @param {any} item
 */
export function findRayContainers(item) {
  const found = [];
  const walk = (o, path) => {
    if (Array.isArray(o)) {
      o.forEach((x, i) => {
        walk(x, `${path}[${i}]`);
      });
      return;
    }
    if (!o || typeof o !== 'object') return;
    if (o.headGroupSpec !== undefined && o.enableInTreeAutoscaling === true) {
      found.push({ where: `${path}.autoscalerOptions (in-tree autoscaler)`, container: o.autoscalerOptions ?? {} });
    }
    if (Array.isArray(o.containers)) {
      const group = /\.(headGroupSpec|workerGroupSpecs\[\d+\])\.template\.spec$/.test(path);
      o.containers.forEach((c, i) => {
        if ((group && i === 0) || runsRayStart(c)) {
          found.push({ where: `${path}.containers[${i}] (${c?.name ?? '?'})`, container: c, podSpec: o });
        }
      });
    }
    for (const [k, v] of Object.entries(o)) walk(v, `${path}.${k}`);
  };
  walk(item, '');
  return found;
}

/** True when a container (or autoscalerOptions) has RAY_USE_TLS=1 in its env. */
export function hasTlsEnv(c) {
  const env = c && typeof c === 'object' && Array.isArray(c.env) ? c.env : [];
  return env.some((e) => e && e.name === 'RAY_USE_TLS' && String(e.value) === '1');
}

/** Items ray-tls may change: KubeRay kinds, carriers of Ray containers, Ray clients, annotated items. */
export function isRayItem(item, source) {
  if (!item || typeof item !== 'object') return false;
  if (KUBERAY_KINDS.has(item.kind)) return true;
  if (findRayContainers(item).length > 0) return true;
  if (/ray:\/\//.test(source)) return true;
  return Object.keys(annotations(item)).some((k) => k.startsWith('ray-tls.io/'));
}

function readFunctionConfig(text) {
  try {
    return parseDocument(text, { uniqueKeys: false }).toJS({ maxAliasCount: -1 })?.functionConfig;
  } catch {
    return undefined;
  }
}

/** True when a KubeRay resource asks the operator for its own mTLS (spec.tlsOptions.enabled). */
function operatorTls(item) {
  let found = false;
  const walk = (o) => {
    if (found || !o || typeof o !== 'object') return;
    if (o.tlsOptions && typeof o.tlsOptions === 'object' && o.tlsOptions.enabled === true) found = true;
    for (const x of Object.values(o)) walk(x);
  };
  if (KUBERAY_KINDS.has(item?.kind)) walk(item.spec);
  return found;
}

function mentions(results, item) {
  const name = item?.metadata?.name;
  return results.some((r) => {
    if (!r || (r.severity !== 'warning' && r.severity !== 'error')) return false;
    const ref = r.resourceRef;
    if (ref && ref.kind === item?.kind && ref.name === name) return true;
    return typeof name === 'string' && name !== '' && typeof r.message === 'string' && r.message.includes(name);
  });
}

/**
 * @param {string} input the ResourceList given to ray-tls
 * @param {string} output its stdout
 * @param {string} secondOutput stdout of ray-tls run on `output` ('' to skip that check)
 * @param {number} exitCode exit status of the first run
 * @returns {string[]} violations, empty when every invariant holds
 */
export function checkInvariants(input, output, secondOutput, exitCode) {
  const v = [];
  if (exitCode !== 0 && exitCode !== 1) v.push(`exit status ${exitCode} (only 0 and 1 are allowed)`);
  const before = readResourceList(input);
  if (!before.ok) return [`input: ${before.error}`];
  const after = readResourceList(output);
  if (!after.ok) {
    v.push(`output: ${after.error}`);
    return v;
  }
  const configuredInitImage = readFunctionConfig(input)?.spec?.initImage ?? readFunctionConfig(input)?.data?.initImage;
  const errors = after.results.filter((r) => r && r.severity === 'error');
  if (exitCode === 1) {
    if (errors.length === 0) v.push('exit 1 without an error result');
    return v;
  }
  if (exitCode !== 0) return v;
  if (errors.length > 0) v.push(`exit 0 with an error result: ${errors[0].message}`);

  const outByKey = new Map(keyed(after.items).map((it) => [it.key, it]));
  for (const it of keyed(before.items)) {
    if (annotations(it.js)['ray-tls.io/skip'] === 'true') continue;
    const out = outByKey.get(it.key);
    if (!out) {
      v.push(`${it.key}: missing from the output`);
      continue;
    }
    if (!isRayItem(it.js, it.source)) {
      if (out.source !== it.source) v.push(`${it.key}: not a Ray item, but changed`);
      continue;
    }
    if (annotations(it.js)['ray-tls.io/role'] === 'none') continue;
    if (operatorTls(it.js)) {
      // KubeRay's own mTLS (spec.tlsOptions.enabled) rejects pods that set RAY_USE_TLS & co.
      if (out.source !== it.source)
        v.push(
          `${it.key}: spec.tlsOptions.enabled (KubeRay mTLS) but ray-tls changed it; KubeRay rejects RAY_* TLS env ` +
            `there`,
        );
      else if (
        !after.results.some(
          (r) => r?.resourceRef?.name === out.js?.metadata?.name && /tlsOptions/.test(String(r.message)),
        )
      ) {
        v.push(`${it.key}: spec.tlsOptions.enabled (KubeRay mTLS) left alone without a result that says so`);
      }
      continue;
    }
    const rayContainers = findRayContainers(out.js);
    for (const { where, container, podSpec } of rayContainers) {
      if (!hasTlsEnv(container) && !mentions(after.results, out.js)) {
        v.push(`${it.key}: Ray container ${where} lacks RAY_USE_TLS=1 and no warning names it`);
      }
      const init =
        podSpec && Array.isArray(podSpec.initContainers)
          ? podSpec.initContainers.find((x) => x?.name === 'ray-tls-init')
          : undefined;
      const rayImages = rayContainers.filter((x) => x.podSpec === podSpec).map((x) => x.container?.image);
      if (init && init.image !== configuredInitImage && !rayImages.includes(init.image)) {
        v.push(
          `${it.key}: init container ray-tls-init runs image ${init.image}, which is no Ray container's image ` +
            `(${where})`,
        );
      }
    }
  }
  for (const r of after.results) {
    const m = typeof r?.message === 'string' ? r.message : '';
    if (r?.resourceRef?.kind === 'RayService' && /headService\.metadata\.name/.test(m) && r.severity !== 'info') {
      v.push(
        `result advises headService.metadata.name for RayService ${r.resourceRef.name}, which KubeRay's validation ` +
          `rejects`,
      );
    }
  }

  if (secondOutput !== '') {
    const again = readResourceList(secondOutput);
    if (!again.ok) v.push(`second run output: ${again.error}`);
    else {
      const a = after.items.map((i) => i.source);
      const b = again.items.map((i) => i.source);
      if (a.length !== b.length) v.push(`second run: ${a.length} items became ${b.length}`);
      else {
        const i = a.findIndex((s, n) => s !== b[n]);
        if (i >= 0) v.push(`second run changed item ${i} (${identity(after.items[i].js)})`);
      }
    }
  }
  return v;
}
