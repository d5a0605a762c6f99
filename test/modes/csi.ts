// A certificate mode for tests only, never shipped: a CSI driver mounts each Ray node pod a
// certificate for the Services the survey found for it. It exists to prove that a mode is one
// module: registered with one line, it goes through the config, --help, the pod edits, the trust
// bundle (its read-only volume takes none, so the config refuses ca.trust) and the validator.
import { about } from '../../src/krm/results.js';
import type { CertificateMode } from '../../src/tls/modes/mode.js';
import { VOLUME } from '../../src/tls/pod.js';
import { getIn, isMap } from '../../src/yaml/json.js';

export const DRIVER = 'csi.ray-tls.test';

const csiVolume = (p: Parameters<CertificateMode['recognises']>[0]) =>
  p.pod.volumes.find((v) => v.name === VOLUME && isMap(v.csi) && v.csi.driver === DRIVER);

export const csi: CertificateMode = {
  name: 'csi',
  summary: 'test only: a CSI driver issues each node its certificate',
  help: 'test only: a CSI driver mounts each Ray node pod a certificate',
  nodeVolume: 'readOnly',
  configRules: (config) =>
    config.certManager ? [] : [{ field: 'certManager', message: 'mode csi needs cert-manager: set it to true' }],
  namespaceCertificates: () => ({ certificates: [], results: [] }),
  nodeSecret: (settings) => settings.caSecret,
  nodeVolumes: (settings, pod) => [
    {
      name: VOLUME,
      csi: {
        driver: DRIVER,
        readOnly: true,
        volumeAttributes: { issuer: settings.caIssuer, dnsNames: pod.services.join(',') },
      },
    },
  ],
  describeNode: (settings) => `a CSI driver mounts its certificate at ${settings.mountPath}`,
  recognises: (p) => csiVolume(p) !== undefined,
  validateNode: (p, r) =>
    getIn(csiVolume(p), ['csi', 'readOnly']) === true
      ? []
      : [about(r, 'error', `${p.ref.where}: the CSI certificate volume is writable: set readOnly: true`)],
};
