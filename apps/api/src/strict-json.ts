import { evaluate, parse } from '@humanwhocodes/momoa';
import { formatPath } from '@lrsweep/schedules';
import type { FastifyInstance } from 'fastify';
import { ApiError } from './errors';

/** Deeper bodies are refused before they are parsed (no sweep is nested anywhere near this). */
const maxJsonDepth = 64;
const forbiddenKeys = new Set(['__proto__', 'constructor', 'prototype']);

type Node = ReturnType<typeof parse>['body'];

/** The deepest nesting of objects and arrays in a JSON text, strings skipped. */
function nestingDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++;
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91) max = Math.max(max, ++depth);
    else if (c === 125 || c === 93) depth--;
  }
  return max;
}

/** Duplicate keys and prototype-pollution keys, with their paths. */
function keyProblems(node: Node, path: PropertyKey[], out: { path: string; message: string }[]) {
  if (node.type === 'Object') {
    const seen = new Set<string>();
    for (const m of node.members) {
      const key = m.name.type === 'String' ? m.name.value : m.name.name;
      const at = [...path, key];
      if (seen.has(key)) out.push({ path: formatPath(at), message: `duplicate key '${key}'` });
      if (forbiddenKeys.has(key)) out.push({ path: formatPath(at), message: `the key '${key}' is not allowed` });
      seen.add(key);
      keyProblems(m.value, at, out);
    }
  } else if (node.type === 'Array') {
    node.elements.forEach((e, i) => keyProblems(e.value, [...path, i], out));
  }
}

/**
 * JSON bodies are parsed strictly: malformed JSON is a 400 of its own, and a body with a
 * duplicated key (which JSON.parse would silently resolve to the last one), a `__proto__` /
 * `constructor` / `prototype` key, or nesting deeper than 64 is refused naming the path.
 */
export function registerStrictJson(app: FastifyInstance) {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = body as string;
    if (text.trim() === '') return done(null, undefined);
    if (nestingDepth(text) > maxJsonDepth) {
      return done(new ApiError('MALFORMED_JSON', `the body nests deeper than ${maxJsonDepth} levels`));
    }
    let doc: ReturnType<typeof parse>;
    try {
      doc = parse(text, { mode: 'json' });
    } catch (err) {
      return done(new ApiError('MALFORMED_JSON', `the body is not valid JSON: ${(err as Error).message}`));
    }
    const problems: { path: string; message: string }[] = [];
    keyProblems(doc.body, [], problems);
    if (problems.length) {
      return done(new ApiError('SPEC_INVALID', problems.map((p) => `${p.path}: ${p.message}`).join('; '), problems));
    }
    done(null, evaluate(doc.body));
  });
}
