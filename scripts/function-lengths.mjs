// Function lengths in src/: every function, method and arrow function over a limit (default 40
// lines, signature to closing brace), longest first. One whose leading comment says `long:` and
// why is listed but allowed (and so are the functions inside it); `--check` exits 1 when any
// other is over the limit.
//   node scripts/function-lengths.mjs [--max N] [--check] [FILE...]
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

const args = process.argv.slice(2);
const maxAt = args.indexOf('--max');
const max = maxAt === -1 ? 40 : Number(args[maxAt + 1]);
const check = args.includes('--check');
const files = args.filter((a, i) => !a.startsWith('--') && i !== maxAt + 1);

const walk = (dir) =>
  readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') ? [p] : [];
  });

function nameOf(node) {
  if (node.name) return node.name.getText();
  const parent = node.parent;
  if (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent)) return parent.name.getText();
  return '(anonymous)';
}

const found = [];
for (const file of files.length ? files : walk('src')) {
  const text = readFileSync(file, 'utf8');
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const visit = (node, covered) => {
    let inner = covered;
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const start = source.getLineAndCharacterOfPosition(node.getStart()).line;
      const end = source.getLineAndCharacterOfPosition(node.end).line;
      const lines = end - start + 1;
      // The comment before the function, or before the statement that declares it.
      let holder = node;
      while (holder.parent && !ts.isSourceFile(holder.parent) && !ts.isBlock(holder.parent)) holder = holder.parent;
      const comments = ts.getLeadingCommentRanges(text, holder.getFullStart()) ?? [];
      const reason = covered || comments.some((c) => /\blong:/.test(text.slice(c.pos, c.end)));
      inner = reason;
      if (lines > max) found.push({ where: `${relative('.', file)}:${start + 1}`, name: nameOf(node), lines, reason });
    }
    ts.forEachChild(node, (child) => visit(child, inner));
  };
  visit(source, false);
}
found.sort((a, b) => b.lines - a.lines);
for (const f of found)
  console.log(`${String(f.lines).padStart(4)}  ${f.name}  ${f.where}${f.reason ? '  (long: reason given)' : ''}`);
const unexplained = found.filter((f) => !f.reason);
console.log(`${found.length} function(s) over ${max} lines, ${unexplained.length} without a reason`);
if (check && unexplained.length) process.exit(1);
