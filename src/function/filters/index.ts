// The pod-edit filters, in the order inject.ts runs them: each a concern of its own (edits.ts).
// The order matters where one filter reads another's edits: the trust bundle rewrites the
// certificate volume, the autoscaler takes the env and mounts of every Ray process.
import { auth } from './auth.js';
import { autoscaler } from './autoscaler.js';
import { certificate } from './certificate.js';
import type { PodFilter } from './edits.js';
import { marker } from './marker.js';
import { tlsEnv } from './tlsEnv.js';
import { trust } from './trust.js';

export const FILTERS: readonly PodFilter[] = [tlsEnv, auth, certificate, trust, autoscaler, marker];
