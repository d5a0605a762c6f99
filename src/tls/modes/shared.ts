// shared: the classic recipe, one certificate naming the Services, mounted by every node.
// It cannot name a pod IP, which nobody knows before the pod starts, and Ray dials every
// node at that IP, its own raylet too: verified on Ray 2.58, even a lone head fails
// ("Failed to connect to GCS at address <pod IP>:6379"). Kept for the recipe's sake, warned.
import { about } from '../../krm/results.js';
import { mapsOf } from '../../yaml/json.js';
import { leafCertificate } from '../certificates.js';
import { secretSource, VOLUME } from '../pod.js';
import type { CertificateMode } from './mode.js';

export const SHARED_CERT = 'ray-tls';
export const SHARED_SECRET = 'ray-tls-certs';

/** The Secret a node's certificate comes from, if it mounts one where RAY_TLS_SERVER_CERT points. */
function certificateSecret(p: Parameters<CertificateMode['recognises']>[0]): string | undefined {
  const { containers, volumes } = p.pod;
  const cert = containers.flatMap((c) => mapsOf(c.env)).find((e) => e.name === 'RAY_TLS_SERVER_CERT')?.value;
  if (typeof cert !== 'string') return undefined;
  const dir = cert.replace(/\/[^/]*$/, '');
  const mount = containers.flatMap((c) => mapsOf(c.volumeMounts)).find((m) => m.mountPath === dir);
  const secret = volumes.find((v) => v.name === mount?.name)?.secret;
  const name = secret && typeof secret === 'object' && !Array.isArray(secret) ? secret.secretName : undefined;
  return typeof name === 'string' ? name : undefined;
}

export const shared: CertificateMode = {
  name: 'shared',
  summary: 'one certificate, single-node clusters only',
  help: 'one certificate for the Services (Ray fails: it dials pod IPs)',
  namespaceCertificates({ namespace, nodes, serviceDnsNames, generatedHeads }, settings) {
    if (!nodes.length) return { certificates: [], results: [] };
    const unnamed = generatedHeads.map((p) =>
      about(
        p.resource,
        'warning',
        `${p.ref.where}: KubeRay names this cluster's head Service at run time, so the shared certificate cannot ` +
          `name it and workers that dial it fail TLS verification; use mode per-pod or pod-dns, which name it`,
      ),
    );
    const dnsNames = [...serviceDnsNames, 'localhost'];
    const spec = { name: SHARED_CERT, secretName: SHARED_SECRET, namespace, dnsNames, ipAddresses: ['127.0.0.1'] };
    const certificate = leafCertificate(
      { ...spec, usages: ['server auth', 'client auth'] },
      settings.leaf,
      settings.caIssuer,
    );
    const message = (where: string) =>
      `${where}: shared mode gives this Ray node a certificate that does not name its pod IP; Ray dials every node ` +
      `at its pod IP, its own raylet included, so Ray fails to start and other nodes are marked dead. Use mode ` +
      `per-pod (the default) or pod-dns`;
    return {
      certificates: [certificate],
      results: [...unnamed, ...nodes.map((p) => about(p.resource, 'warning', message(p.ref.where)))],
    };
  },
  nodeSecret: () => SHARED_SECRET,
  nodeVolume: 'secret',
  nodeVolumes: (_settings, pod) => [{ name: VOLUME, secret: secretSource(SHARED_SECRET, pod.secretMode) }],
  describeNode: (settings) => `mounts the shared certificate at ${settings.mountPath}`,
  recognises: (p) => certificateSecret(p) !== undefined,
  validateNode: (p, r) => [
    about(
      r,
      'warning',
      `${p.ref.where}: the Ray node's certificate comes from Secret ${certificateSecret(p)}, issued before the pod ` +
        `had an IP, so it cannot name the address Ray dials: Ray fails to start or marks the node dead. Use per-pod ` +
        `or pod-dns mode`,
    ),
  ],
};
