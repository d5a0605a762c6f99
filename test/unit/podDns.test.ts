// pod-dns rewrites, run with the real sh: what `ray start` and the probes receive.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { execWrapper, podDnsName, rewriteProbe, rewriteRayStart } from '../../src/tls/modes/podDns.js';

const env = { PATH: process.env.PATH ?? '', RAY_TLS_POD_IP: '10.244.7.2', RAY_TLS_POD_NAMESPACE: 'django-ray' };
/** Runs a shell script with `ray ` replaced by a printer of its arguments, one per line. */
const printed = (script: string) =>
  spawnSync('sh', ['-c', script.replace(/^(exec )?ray /, 'printf "%s\\n" ')], { env, encoding: 'utf8' })
    .stdout.trim()
    .split('\n');
const NAME = '10-244-7-2.django-ray.pod.cluster.local';

describe('rewriteRayStart', () => {
  it('wraps exec-form ray start so it advertises the pod DNS name', () => {
    const r = rewriteRayStart(['ray', 'start'], ['--head', '--block'], 'cluster.local');
    if (typeof r !== 'object' || 'error' in r) throw new Error('expected a rewrite');
    expect(r.command).toEqual(['sh', '-c', execWrapper('cluster.local'), 'ray-tls']);
    expect(r.args).toEqual(['ray', 'start', '--head', '--block']);
    // What the kubelet runs: command + args; `ray` stands in as an argument printer.
    const out = spawnSync(
      'sh',
      ['-c', execWrapper('cluster.local').replace('exec "$@"', 'shift 0; printf "%s\\n" "$@"'), 'ray-tls', ...r.args],
      { env, encoding: 'utf8' },
    );
    expect(out.stdout.trim().split('\n')).toEqual(['ray', 'start', '--head', '--block', `--node-ip-address=${NAME}`]);
  });

  it('adds the flag after each ray start in a shell script', () => {
    const r = rewriteRayStart(
      ['/bin/bash', '-lc'],
      ['if [ "$HEAD" ]; then ray start --head; else ray start --address=h:6379; fi'],
      'cluster.local',
    );
    if (typeof r !== 'object' || 'error' in r) throw new Error('expected a rewrite');
    expect(r.command).toEqual(['/bin/bash', '-lc']);
    expect(
      r.args[0].match(
        new RegExp(
          String.raw`ray start --node-ip-address="\$\(echo "\$RAY_TLS_POD_IP" \| tr \.: --\)\.` +
            String.raw`\$RAY_TLS_POD_NAMESPACE\.pod\.cluster\.local"`,
          'g',
        ),
      ),
    ).toHaveLength(2);
  });

  it('is idempotent and refuses what it cannot do safely', () => {
    const r = rewriteRayStart(['ray', 'start'], ['--head'], 'cluster.local') as { command: string[]; args: string[] };
    expect(rewriteRayStart(r.command, r.args, 'cluster.local')).toBe('done');
    expect(rewriteRayStart(['python', 'app.py'], undefined, 'cluster.local')).toBe('none');
    expect(rewriteRayStart(['ray', 'start', '--node-ip-address=1.2.3.4'], undefined, 'cluster.local')).toMatchObject({
      error: expect.stringContaining('already sets --node-ip-address'),
    });
    expect(rewriteRayStart(['sh', '-c'], ['start-ray.sh'], 'cluster.local')).toBe('none');
  });

  it('the pod DNS name: dots and colons of the pod IP become dashes', () => {
    const show = (ip: string) =>
      spawnSync('sh', ['-c', `printf %s "${podDnsName('c.local')}"`], {
        env: { ...env, RAY_TLS_POD_IP: ip },
        encoding: 'utf8',
      }).stdout;
    expect(show('10.244.7.2')).toBe('10-244-7-2.django-ray.pod.c.local');
    expect(show('fd00::7')).toBe('fd00--7.django-ray.pod.c.local');
  });
});

describe('rewriteProbe', () => {
  it('aims an exec-form health check at the pod DNS name', () => {
    const probe = rewriteProbe(
      ['ray', 'health-check', '--address=127.0.0.1:6379', '--component=ray_client_server'],
      'cluster.local',
    )!;
    expect(probe.slice(0, 2)).toEqual(['sh', '-c']);
    expect(printed(probe[2])).toEqual(['health-check', `--address=${NAME}:6379`, '--component=ray_client_server']);
    expect(rewriteProbe(probe, 'cluster.local')).toBeUndefined(); // idempotent
  });

  it('rewrites loopback addresses inside a shell probe and leaves other probes alone', () => {
    const probe = rewriteProbe(['bash', '-c', 'ray health-check --address=localhost:6379 || exit 1'], 'cluster.local')!;
    expect(probe[2]).toBe(`ray health-check --address="${podDnsName('cluster.local')}:6379" || exit 1`);
    expect(printed(probe[2].replace(' || exit 1', ''))).toEqual(['health-check', `--address=${NAME}:6379`]);
    expect(
      rewriteProbe(['wget', '-q', 'http://localhost:52365/api/local_raylet_healthz'], 'cluster.local'),
    ).toBeUndefined();
    expect(rewriteProbe(['ray', 'health-check', '--address=ray-head:6379'], 'cluster.local')).toBeUndefined();
  });
});
