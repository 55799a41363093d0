#!/usr/bin/env node
// Shape figures for docs and notes (issue 24): the longest functions, the files over 400
// lines, the import cycles (type-only imports included: they tie two rooms together just as
// much), and the files outside src/aws/ that build aws argv. Reads the tree with TypeScript's
// own parser; writes nothing. Usage: node scripts/shape.mjs [--json]
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const DIRS = ['src', 'sandbox', 'bench', 'nova/src'];

function files(dir) {
  const out = [];
  for (const e of readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
    const rel = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...files(rel));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(rel);
  }
  return out;
}

const all = DIRS.filter((d) => { try { return statSync(path.join(ROOT, d)).isDirectory(); } catch { return false; } }).flatMap(files);
const functions = [];
const imports = new Map();
const argvOutsideAws = [];
for (const file of all) {
  const text = readFileSync(path.join(ROOT, file), 'utf8');
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
  const deps = new Set();
  const visit = (node) => {
    if (ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node) || ts.isArrowFunction(node) || ts.isFunctionExpression(node)) {
      const start = sf.getLineAndCharacterOfPosition(node.getStart()).line + 1;
      const end = sf.getLineAndCharacterOfPosition(node.getEnd()).line + 1;
      let name = node.name?.getText?.() ?? '';
      if (!name && ts.isVariableDeclaration(node.parent)) name = node.parent.name.getText();
      if (name) functions.push({ file, name, start, lines: end - start + 1 });
    }
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      const spec = node.moduleSpecifier.text;
      if (spec.startsWith('.')) {
        const target = path.normalize(path.join(path.dirname(file), spec.replace(/\.js$/, '.ts')));
        deps.add(target);
      }
    }
    if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteral(node.arguments[0]) && node.arguments[0].text.startsWith('.')) {
      deps.add(path.normalize(path.join(path.dirname(file), node.arguments[0].text.replace(/\.js$/, '.ts'))));
    }
    // An argv list of the aws CLI: an array literal whose first element is a service name string.
    if (!file.startsWith('src/aws/') && file.startsWith('src/') && ts.isArrayLiteralExpression(node) && node.elements.length >= 2) {
      const [first, second] = node.elements;
      if (ts.isStringLiteral(first) && ts.isStringLiteral(second) && /^(ec2|iam|elasticbeanstalk|s3|s3api|sts|dynamodb|cloudwatch|logs)$/.test(first.text) && /^[a-z]+(-[a-z0-9]+)+$/.test(second.text)) {
        argvOutsideAws.push(`${file}:${sf.getLineAndCharacterOfPosition(node.getStart()).line + 1} ${first.text} ${second.text}`);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  imports.set(file, deps);
}

// Cycles: Tarjan's strongly connected components of the import graph.
let index = 0;
const idx = new Map(), low = new Map(), onStack = new Set(), stack = [], sccs = [];
function strong(v) {
  idx.set(v, index); low.set(v, index); index++; stack.push(v); onStack.add(v);
  for (const w of imports.get(v) ?? []) {
    if (!imports.has(w)) continue;
    if (!idx.has(w)) { strong(w); low.set(v, Math.min(low.get(v), low.get(w))); }
    else if (onStack.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
  }
  if (low.get(v) === idx.get(v)) {
    const scc = [];
    let w;
    do { w = stack.pop(); onStack.delete(w); scc.push(w); } while (w !== v);
    if (scc.length > 1) sccs.push(scc.sort());
  }
}
for (const v of imports.keys()) if (!idx.has(v)) strong(v);

const lines = all.map((f) => ({ file: f, lines: readFileSync(path.join(ROOT, f), 'utf8').split('\n').length })).sort((a, b) => b.lines - a.lines);
const result = {
  files: all.length,
  functions: functions.length,
  longest: functions.sort((a, b) => b.lines - a.lines).slice(0, 8).map((f) => `${f.lines} ${f.file}:${f.start} ${f.name}`),
  over80: functions.filter((f) => f.lines > 80).length,
  over400: lines.filter((f) => f.lines > 400).map((f) => `${f.lines} ${f.file}`),
  cycles: sccs.map((s) => s.join(' <-> ')),
  argvOutsideAws,
};
if (process.argv.includes('--json')) console.log(JSON.stringify(result, null, 2));
else {
  console.log(`${result.files} files, ${result.functions} functions, ${result.over80} over 80 lines`);
  console.log('longest functions:\n  ' + result.longest.join('\n  '));
  console.log('files over 400 lines:\n  ' + (result.over400.join('\n  ') || 'none'));
  console.log(`import cycles (strongly connected groups): ${result.cycles.length}\n  ` + (result.cycles.join('\n  ') || 'none'));
  console.log(`aws argv lists outside src/aws/: ${result.argvOutsideAws.length}\n  ` + (result.argvOutsideAws.join('\n  ') || 'none'));
}
