// Schema validators as code: compiled by Ajv at run time, or precompiled at build time (Ajv's standalone code) so a
// CLI start does not pay Ajv's import and schema compile (~0.2 s) before it can check a file.
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type { AnySchema, ValidateFunction } from 'ajv';
import { PATH_KEYWORD } from './path-fields.js';

const require = createRequire(import.meta.url);

/** A validator and, by `$defs` name, the schema objects its errors' `parentSchema` point into. */
export interface SchemaValidator {
  validate: ValidateFunction;
  defs: Record<string, object>;
}

type AjvInstance = import('ajv').default & { scope: { _values: { schema?: Map<unknown, { str: string; value?: { ref: unknown } }> } } };

function ajvFor(standalone: boolean): AjvInstance {
  // Loaded on use: Ajv is only needed when no precompiled validator fits.
  const mod = require('ajv/dist/2020.js') as { default: new (o: object) => AjvInstance };
  const ajv = new mod.default({ allErrors: true, verbose: true, strict: true, ...(standalone ? { code: { source: true } } : {}) });
  // An annotation, not a check: which strings are host paths (see paths.ts); strict mode must know it.
  ajv.addKeyword({ keyword: PATH_KEYWORD, schemaType: ['string', 'boolean'] });
  return ajv;
}

/** File name of a schema's precompiled validator: topology.schema.json -> topology.validate.cjs (in dist/schemas/). */
export function precompiledName(schemaFile: string): string {
  return schemaFile.replace(/\.schema\.json$/, '.validate.cjs');
}

function schemaHash(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function defsOf(root: object): Record<string, object> {
  return ((root as { $defs?: Record<string, object> }).$defs ?? {});
}

/** Compile the schema text now. */
export function compileSchema(text: string): SchemaValidator {
  const root = JSON.parse(text) as object;
  return { validate: ajvFor(false).compile(root as AnySchema), defs: defsOf(root) };
}

/** CommonJS source of a precompiled validator for the schema text (run by the build). */
export function validatorSource(text: string): string {
  const root = JSON.parse(text) as object;
  const ajv = ajvFor(true);
  const validate = ajv.compile(root as AnySchema);
  const nameOf = new Map<unknown, string>(Object.entries(defsOf(root)).map(([name, def]) => [def, name]));
  // Ajv emits each $defs entry as a constant of its own (schemaN): export them by name so errors map back to them.
  const defs: string[] = [];
  for (const v of ajv.scope._values.schema?.values() ?? []) {
    const name = nameOf.get(v.value?.ref);
    if (name !== undefined) defs.push(`${JSON.stringify(name)}: ${v.str}`);
  }
  const standalone = require('ajv/dist/standalone/index.js') as { default: (a: unknown, v: ValidateFunction) => string };
  return [
    standalone.default(ajv, validate),
    `module.exports.sha256 = ${JSON.stringify(schemaHash(text))};`,
    `module.exports.defs = {${defs.join(', ')}};`,
    '',
  ].join('\n');
}

/** The precompiled validator at `file` if it was built from exactly this schema text; undefined otherwise. */
export function loadPrecompiled(file: string, text: string): SchemaValidator | undefined {
  let mod: { default?: ValidateFunction; sha256?: string; defs?: Record<string, object> };
  try {
    mod = require(file) as typeof mod;
  } catch {
    return undefined;
  }
  if (mod.sha256 !== schemaHash(text) || !mod.default || !mod.defs) return undefined;
  return { validate: mod.default, defs: mod.defs };
}
