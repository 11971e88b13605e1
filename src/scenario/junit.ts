// JUnit XML for CI report viewers: one testsuite per scenario, one testcase per step. Hand-written: the format is
// a few fixed elements, and the one subtle part (escaping, characters XML 1.0 cannot hold) is below.
import os from 'node:os';
import { reportText } from '../host/printable.js';
import type { ScenarioRun, StepResult } from './runner.js';

// XML 1.0 allows only \t \n \r below 0x20; no lone surrogates, no U+FFFE/U+FFFF.
const NOT_XML = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** Text made safe for XML content and attribute values: escapes, and unrepresentable characters shown as \uXXXX. */
export function xmlEscape(text: string): string {
  return text
    .replace(NOT_XML, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** Attribute values keep line breaks only as character references (parsers normalise raw ones to spaces). */
function attr(text: string): string {
  return xmlEscape(text).replace(/\n/g, '&#10;').replace(/\r/g, '&#13;').replace(/\t/g, '&#9;');
}

const secs = (ms: number) => (ms / 1000).toFixed(3);

/** A step's own output as the testcase's system-out/system-err (JUnit viewers show it beside the result). */
function outputs(r: StepResult): string[] {
  const o = r.output;
  if (!o) return [];
  return [...(o.stdout ? [`      <system-out>${xmlEscape(o.stdout)}</system-out>`] : []), ...(o.stderr ? [`      <system-err>${xmlEscape(o.stderr)}</system-err>`] : [])];
}

function testcase(run: ScenarioRun, r: StepResult): string {
  const open = `    <testcase name="${attr(`${r.index + 1}. ${r.name}`)}" classname="${attr(run.scenario.name)}" time="${secs(r.durationMs)}"`;
  const out = outputs(r);
  if (r.status === 'passed') return out.length === 0 ? `${open}/>` : [`${open}>`, ...out, '    </testcase>'].join('\n');
  if (r.status === 'skipped') return `${open}>\n      <skipped/>\n    </testcase>`;
  const f = r.failure!;
  const body = [
    ...(f.expected ? [`expected: ${f.expected}`] : []),
    ...f.got,
    ...(f.console.length > 0 ? [`last console lines of ${f.node}:`, ...f.console.map((l) => `  ${l}`)] : []),
  ].join('\n');
  return [`${open}>`, `      <failure message="${attr(f.message)}" type="${r.kind}">${xmlEscape(body)}</failure>`, ...out, '    </testcase>'].join('\n');
}

function testsuite(run: ScenarioRun, id: number): string {
  const failures = run.results.filter((r) => r.status === 'failed').length;
  const skipped = run.results.filter((r) => r.status === 'skipped').length;
  // The raw logs (in a bundle) keep every byte; here the prompt's terminal queries would be noise.
  const logs = [...run.consoleLogs].map(([node, log]) => `===== ${node} console =====\n${reportText(log.toString('utf8'))}`).join('\n');
  const props = [
    ['seed', String(run.scenario.seed)],
    ['file', run.scenario.shownFile ?? run.scenario.file],
    ['topology', run.scenario.topology.name],
    ...(run.accel ? [['accel', run.accel]] : []),
    ...(run.attached ? [['attached', run.attached.lab]] : []),
    ...(run.pausedMs ? [['paused', secs(run.pausedMs)]] : []),
  ];
  return [
    `  <testsuite id="${id}" package="topo" name="${attr(run.scenario.name)}" tests="${run.results.length}" failures="${failures}" errors="0" skipped="${skipped}" time="${secs(run.durationMs)}" timestamp="${new Date(run.startedAt).toISOString().replace(/\.\d+Z$/, '')}" hostname="${attr(os.hostname())}">`,
    '    <properties>',
    ...props.map(([k, v]) => `      <property name="${attr(k as string)}" value="${attr(v as string)}"/>`),
    '    </properties>',
    ...run.results.map((r) => testcase(run, r)),
    `    <system-out>${xmlEscape(logs)}</system-out>`,
    `    <system-err>${xmlEscape(run.error ?? '')}</system-err>`,
    '  </testsuite>',
  ].join('\n');
}

export function junitXml(runs: readonly ScenarioRun[]): string {
  const count = (s: StepResult['status']) => runs.reduce((n, r) => n + r.results.filter((x) => x.status === s).length, 0);
  const tests = runs.reduce((n, r) => n + r.results.length, 0);
  const time = runs.reduce((n, r) => n + r.durationMs, 0);
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="topo test" tests="${tests}" failures="${count('failed')}" errors="0" skipped="${count('skipped')}" time="${secs(time)}">`,
    ...runs.map((r, i) => testsuite(r, i)),
    '</testsuites>',
    '',
  ].join('\n');
}
