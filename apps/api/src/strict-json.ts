import { evaluate, parse } from '@humanwhocodes/momoa';
import { formatPath, type SpecIssue } from '@lrsweep/schedules';
import type { FastifyInstance } from 'fastify';
import { ApiError } from './errors';

/**
 * What a body may cost before it is parsed into a syntax tree (the tree takes ~0.5 µs and
 * ~300 bytes per value, so these bound a request's time and memory): no spec nests anywhere
 * near 64 levels, no list of the contract holds more than 10 000 values (multistep milestones,
 * preview metrics), and no sensible spec has 50 000 values in all.
 */
export const jsonLimits = { maxDepth: 64, maxArrayLength: 10_000, maxValues: 50_000 } as const;
const forbiddenKeys = new Set(['__proto__', 'constructor', 'prototype']);

type Node = ReturnType<typeof parse>['body'];

interface Frame {
  array: boolean;
  /** Elements so far (arrays), or the key being read (objects). */
  count: number;
  sawValue: boolean;
  key: string;
  expectKey: boolean;
}

/**
 * One pass over the raw text, before any tree is built: the first limit the body exceeds, with
 * the path where it does, or null. Malformed text is left for the parser to describe.
 */
export function costProblem(text: string): SpecIssue | null {
  const stack: Frame[] = [];
  const pathOf = () => formatPath(stack.map((f) => (f.array ? f.count : f.key)));
  let values = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 32 || c === 10 || c === 13 || c === 9) continue;
    const top = stack.at(-1);
    if (c === 34) {
      // A string: skip to its end, reading it only when it is an object's key.
      const start = i + 1;
      for (i++; i < text.length && text.charCodeAt(i) !== 34; i++) if (text.charCodeAt(i) === 92) i++;
      if (top && !top.array && top.expectKey) {
        top.key = text.slice(start, i);
        top.expectKey = false;
        continue;
      }
    } else if (c === 44) {
      if (top?.array) top.count++;
      else if (top) top.expectKey = true;
      continue;
    } else if (c === 58) {
      continue;
    } else if (c === 93 || c === 125) {
      stack.pop();
      continue;
    }
    // The start of a value.
    if (top?.array) {
      top.sawValue = true;
      if (top.count + 1 > jsonLimits.maxArrayLength)
        return {
          path: pathOf().replace(/\[\d+\]$/, ''),
          message: `a list of more than ${jsonLimits.maxArrayLength} values`,
        };
    }
    if (++values > jsonLimits.maxValues)
      return { path: '', message: `the body has more than ${jsonLimits.maxValues} values` };
    if (c === 123 || c === 91) {
      if (stack.length >= jsonLimits.maxDepth)
        return { path: pathOf(), message: `the body nests deeper than ${jsonLimits.maxDepth} levels` };
      stack.push({ array: c === 91, count: 0, sawValue: false, key: '', expectKey: c === 123 });
    } else if (c !== 34) {
      // A number, true, false or null: skip to its end.
      while (i + 1 < text.length && !',]} \n\r\t'.includes(text[i + 1]!)) i++;
    }
  }
  return null;
}

/** Duplicate keys and prototype-pollution keys, with their paths. */
function keyProblems(node: Node, path: PropertyKey[], out: SpecIssue[]) {
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

/** A NUL or a lone UTF-16 surrogate: no text column can hold them, and no name needs them. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: a NUL is what it looks for.
const badText = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Strings (keys too) holding a NUL or a lone surrogate, with their paths. */
export function textProblems(value: unknown, path: PropertyKey[] = [], out: SpecIssue[] = []): SpecIssue[] {
  if (typeof value === 'string') {
    if (badText.test(value))
      out.push({ path: formatPath(path), message: 'contains a NUL character or an unpaired surrogate' });
  } else if (Array.isArray(value)) value.forEach((v, i) => textProblems(v, [...path, i], out));
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (badText.test(k))
        out.push({
          path: formatPath([...path, k]),
          message: 'the key contains a NUL character or an unpaired surrogate',
        });
      textProblems(v, [...path, k], out);
    }
  }
  return out;
}

const problem = (code: 'MALFORMED_JSON' | 'SPEC_INVALID', issues: SpecIssue[]) =>
  new ApiError(code, issues.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message)).join('; '), issues);

/**
 * JSON bodies are parsed strictly: malformed JSON is a 400 of its own; a body past the cost
 * limits (`jsonLimits`), with a duplicated key (which JSON.parse would silently resolve to the
 * last one), a `__proto__` / `constructor` / `prototype` key, or a NUL or lone surrogate in any
 * string is refused naming the path.
 */
export function registerStrictJson(app: FastifyInstance) {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = body as string;
    if (text.trim() === '') return done(null, undefined);
    const cost = costProblem(text);
    if (cost) return done(problem(cost.message.includes('nests') ? 'MALFORMED_JSON' : 'SPEC_INVALID', [cost]));
    let doc: ReturnType<typeof parse>;
    try {
      doc = parse(text, { mode: 'json' });
    } catch (err) {
      return done(new ApiError('MALFORMED_JSON', `the body is not valid JSON: ${(err as Error).message}`));
    }
    const problems: SpecIssue[] = [];
    keyProblems(doc.body, [], problems);
    if (problems.length) return done(problem('SPEC_INVALID', problems));
    const value = evaluate(doc.body);
    const strings = textProblems(value);
    if (strings.length) return done(problem('SPEC_INVALID', strings));
    done(null, value);
  });
}
