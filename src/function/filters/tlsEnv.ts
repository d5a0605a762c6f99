// TLS for every Ray process: the env that turns it on and names the files, and their read-only mount.
import { tlsEnv as env, tlsMount } from '../../tls/pod.js';
import type { PodFilter } from './edits.js';

export const tlsEnv: PodFilter = (edits, _pod, { pods: settings }) => ({
  ...edits,
  env: [...edits.env, ...env(settings.mountPath)],
  mounts: [...edits.mounts, tlsMount(settings.mountPath)],
});
