// The floor ray-tls is compared with: the whole input parsed into one `yaml`
// Document with the round-trip options of docs/design.md §5.10 and printed again.
// Reads stdin, writes stdout.
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';

const doc = parseDocument(readFileSync(0, 'utf8'), { version: '1.1' });
if (doc.errors.length) {
  process.stderr.write(`floor: ${doc.errors[0].message}\n`);
  process.exitCode = 1;
}
process.stdout.write(doc.toString({ indentSeq: false, flowCollectionPadding: false, lineWidth: 0 }));
