import { BulwarkPolicyError, ErrorCodes } from '../errors';
import type { PolicyDocument } from './policy-document';
import { validatePolicyDocument } from './validate-policy-document';

type YamlModule = typeof import('yaml');
let yamlModule: YamlModule | undefined;
/** Loaded by the first policy parsed from text, not by `import '@bulwark/core'`. */
function yaml(): YamlModule {
  return (yamlModule ??= require('yaml') as YamlModule);
}

/** A policy file larger than this is refused before parsing (1 MiB is thousands of rules). */
export const MAX_POLICY_TEXT_LENGTH = 1024 * 1024;

export interface ParsePolicyTextOptions {
  /** `json`, `yaml`, or `auto` (the default: JSON when the text starts with `{`, else YAML). */
  format?: 'json' | 'yaml' | 'auto';
}

function invalid(path: string, message: string, cause?: unknown): BulwarkPolicyError {
  return new BulwarkPolicyError(ErrorCodes.POLICY_INVALID, `${path}: ${message}`, { path }, { cause });
}

/**
 * Parses and strictly validates a policy written as JSON or YAML. YAML is read with the core
 * schema (no custom tags, no `!!js/function`), duplicate keys are errors (a second `effect:`
 * must not silently win), and alias expansion is bounded (no "billion laughs").
 */
export function parsePolicyText(text: string, options: ParsePolicyTextOptions = {}): PolicyDocument {
  if (typeof text !== 'string') throw invalid('policy', 'policy text must be a string');
  if (text.length > MAX_POLICY_TEXT_LENGTH) {
    throw invalid('policy', `policy text is longer than ${MAX_POLICY_TEXT_LENGTH} characters`);
  }
  const format = options.format ?? 'auto';
  const json = format === 'json' || (format === 'auto' && text.trimStart().startsWith('{'));
  let data: unknown;
  if (json) {
    try {
      data = JSON.parse(text);
    } catch (err) {
      throw invalid('policy', `not valid JSON (${(err as Error).message})`, err);
    }
  } else {
    const doc = yaml().parseDocument(text, { schema: 'core', uniqueKeys: true, prettyErrors: false });
    // Warnings are errors here: an unknown tag (`!!js/function`) is otherwise read as a plain
    // string, and a policy must mean exactly what it says.
    const problems = [...doc.errors, ...doc.warnings];
    if (problems.length > 0) {
      const e = problems[0];
      const line = e.linePos?.[0]?.line;
      throw invalid('policy', `not valid YAML${line ? ` (line ${line})` : ''}: ${e.code}`, e);
    }
    try {
      data = doc.toJS({ maxAliasCount: 100 });
    } catch (err) {
      throw invalid('policy', `YAML could not be resolved (${(err as Error).message})`, err);
    }
  }
  return validatePolicyDocument(data);
}
