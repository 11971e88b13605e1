// Build step after tsc: precompile each JSON Schema into dist/schemas/NAME.validate.cjs (Ajv standalone code), so
// the CLI checks files without importing Ajv or compiling the schema on every start.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { precompiledName, validatorSource } from '../dist/topology/schema-code.js';

const schemas = new URL('../schemas/', import.meta.url);
const out = new URL('../dist/schemas/', import.meta.url);
mkdirSync(out, { recursive: true });
for (const file of readdirSync(schemas).filter((f) => f.endsWith('.schema.json'))) {
  const text = readFileSync(new URL(file, schemas), 'utf8');
  writeFileSync(new URL(precompiledName(file), out), validatorSource(text));
}
