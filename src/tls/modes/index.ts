// The registry of certificate modes, in the order they were registered: the shipped ones (below) first.
// Adding a mode is one module and one registerMode line: the config, --help, the pod edits, the
// trust bundle and the validator all ask the registry and the mode's declaration.
import { declareOwnContainer } from '../pod.js';
import { TRUST_BY_VOLUME } from '../trust.js';
import type { CertificateMode, ModeConfig } from './mode.js';
import { perPod } from './perPod.js';
import { podDns } from './podDns.js';
import { shared } from './shared.js';

export type { CertificateMode } from './mode.js';

const registered: CertificateMode[] = [];
export const MODES: readonly CertificateMode[] = registered;
export const DEFAULT_MODE = perPod;

/** Adds a mode (after the others): the config accepts its name from then on, and its containers are ray-tls's. */
export function registerMode(mode: CertificateMode): void {
  if (modeNamed(mode.name)) return;
  registered.push(mode);
  for (const name of mode.ownContainers ?? []) declareOwnContainer(name);
}

export const modeNamed = (name: string): CertificateMode | undefined => MODES.find((m) => m.name === name);

/** What the config may not ask of this mode: the rules its declaration implies, then its own. */
export function modeProblems(mode: CertificateMode, config: ModeConfig): { field: string; message: string }[] {
  const trust = config.ca.trust.length > 0 && TRUST_BY_VOLUME[mode.nodeVolume] === undefined;
  const can = MODES.filter((m) => TRUST_BY_VOLUME[m.nodeVolume] !== undefined).map((m) => m.name);
  return [
    ...(trust
      ? [
          {
            field: 'ca.trust',
            message:
              `mode ${mode.name} gives Ray nodes a read-only certificate volume that no init container can add ` +
              `trusted CAs to; remove ca.trust, or use a mode that can (${can.join(', ')})`,
          },
        ]
      : []),
    ...(mode.configRules?.(config) ?? []),
  ];
}

// The shipped modes, in the order the validator asks them whether a pod is theirs.
for (const mode of [perPod, podDns, shared]) registerMode(mode);
