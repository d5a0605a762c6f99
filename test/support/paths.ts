import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '..', '..');
export const BUNDLE = join(ROOT, 'dist', 'ray-tls.js');

/** Helm 3, Helm 4, kubectl 1.34 and 1.35, fetched by scripts/ensure-k8s-tools.mjs (npm test's pretest). */
export const K8S_TOOLS = join(ROOT, '.cache', 'k8s-tools');
export const HELM3 = join(K8S_TOOLS, 'helm3');
export const HELM4 = join(K8S_TOOLS, 'helm4');
export const KUBECTL_1_34 = join(K8S_TOOLS, 'kubectl.1.34');
export const KUBECTL_1_35 = join(K8S_TOOLS, 'kubectl.1.35');
