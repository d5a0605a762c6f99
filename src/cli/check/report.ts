// The report as text, one line per check (ok/FAIL), or as JSON: pure formatting.
import type { CheckReport } from './judge.js';

export function formatReport(r: CheckReport): string {
  const lines: string[] = [];
  for (const c of r.checks) {
    lines.push(`${c.ok ? 'ok  ' : 'FAIL'}  ${c.detail}`);
    if (c.name !== 'tls') continue;
    // The chain right after the TLS line: facts, not checks.
    r.chain.forEach((e, i) => {
      const sans = e.sans.length ? e.sans.join(', ') : 'none';
      lines.push(`      [${i}] ${e.subject}; issuer ${e.issuer}; serial ${e.serial}; SANs ${sans}`);
    });
  }
  const failed = r.checks.filter((c) => !c.ok).length;
  lines.push(
    failed
      ? `FAIL  ${r.endpoint}: ${failed} of ${r.checks.length} check${r.checks.length === 1 ? '' : 's'} failed`
      : `ok    ${r.endpoint}: all ${r.checks.length} checks passed`,
  );
  return lines.join('\n');
}

export const formatJson = (r: CheckReport): string => JSON.stringify(r, null, 2);
