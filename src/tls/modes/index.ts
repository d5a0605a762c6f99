// The certificate modes, in the order the validator asks them whether a pod is theirs.
// Adding a mode is one module and one line here: the config, --help and the validator follow.
import type { CertificateMode } from './mode.js';
import { perPod } from './perPod.js';
import { podDns } from './podDns.js';
import { shared } from './shared.js';

export type { CertificateMode } from './mode.js';

export const MODES: readonly CertificateMode[] = [perPod, podDns, shared];
export const DEFAULT_MODE = perPod;

export const modeNamed = (name: string): CertificateMode | undefined => MODES.find((m) => m.name === name);
