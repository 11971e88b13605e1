// Dependency closure of a package list, from the host's apt: `apt-get -s install` against an empty dpkg
// status, so the answer does not depend on what the host has installed. No network, no root.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TopoError } from '../errors.js';
import { suggest } from '../topology/diagnostics.js';
import { checkAborted } from './packages.js';

/**
 * Added to every set on purpose. Debian packages never declare dependencies on Essential packages, and the
 * default guest's busybox stands in for most of them (sh, coreutils, grep, sed, ...); what it does not
 * provide is bash (scripts such as FRR's frrinit.sh start with #!/bin/bash). usr-is-merged (not Essential)
 * satisfies init-system-helpers' "usrmerge | usr-is-merged" without pulling usrmerge and perl in.
 */
export const ADDED_PACKAGES = ['bash', 'usr-is-merged'] as const;

export interface ResolvedPackage {
  readonly name: string;
  readonly version: string;
}

/** NAME or NAME=VERSION (the schema's pattern). */
export function parseSpec(spec: string): { name: string; version?: string } {
  const eq = spec.indexOf('=');
  return eq < 0 ? { name: spec } : { name: spec.slice(0, eq), version: spec.slice(eq + 1) };
}

/** "Inst NAME (VERSION ...)" lines of a simulated install, in install order. */
export function parseSimulation(text: string): ResolvedPackage[] {
  const out: ResolvedPackage[] = [];
  for (const m of text.matchAll(/^Inst (\S+) (?:\[[^\]]*\] )?\((\S+)/gm)) out.push({ name: m[1]!.replace(/:amd64$/, ''), version: m[2]! });
  return out;
}

/** The package apt could not find, from its error lines. */
export function unknownPackage(stderr: string): { name: string; version?: string } | undefined {
  const m = /Unable to locate package (\S+)/.exec(stderr) ?? /Package '?([^\s']+)'? has no installation candidate/.exec(stderr);
  if (m) return { name: m[1]! };
  const v = /Version '([^']+)' for '([^']+)' was not found/.exec(stderr);
  return v ? { name: v[2]!, version: v[1]! } : undefined;
}

async function exec(tool: string, args: string[], signal?: AbortSignal) {
  checkAborted(signal);
  const r = await (await import('execa')).execa(tool, args, { reject: false, env: { LC_ALL: 'C' }, cancelSignal: signal });
  checkAborted(signal);
  if (r.exitCode === undefined) {
    throw new TopoError(`${tool} not found: packages: are resolved with the host's apt`, { code: 'E_GUEST_APT', hint: 'run topo on a Debian or Ubuntu host' });
  }
  return r;
}

/** A close package name from the host's package lists, for "did you mean". */
export async function nearPackage(name: string, signal?: AbortSignal): Promise<string | undefined> {
  const r = await exec('apt-cache', ['pkgnames'], signal);
  return suggest(name, String(r.stdout).split('\n').filter(Boolean));
}

export class UnknownPackageError extends TopoError {
  constructor(
    readonly spec: string,
    message: string,
    fields: { hint?: string; stderrTail?: string },
  ) {
    super(message, { code: 'E_PACKAGE_UNKNOWN', stderrSource: 'apt-get', ...fields });
  }
}

/** Exact versions of `specs` and everything they depend on (no recommends), plus ADDED_PACKAGES. */
export async function resolveClosure(specs: readonly string[], signal?: AbortSignal): Promise<ResolvedPackage[]> {
  const dir = await mkdtemp(join(tmpdir(), 'topo-apt-'));
  try {
    const status = join(dir, 'status');
    await writeFile(status, '');
    const args = ['-s', '-q', '-o', `Dir::State::status=${status}`, '-o', 'APT::Install-Recommends=false', '-o', 'APT::Install-Suggests=false', 'install', ...ADDED_PACKAGES, ...specs];
    const r = await exec('apt-get', args, signal);
    const stderr = String(r.stderr);
    if (r.exitCode !== 0) {
      const bad = unknownPackage(stderr);
      const tail = stderr.trim().split('\n').filter((l) => l.startsWith('E:')).slice(-3).join('\n') || stderr.trim().split('\n').slice(-3).join('\n');
      // bash is in every Debian suite: not finding it means apt has no package lists (a container image without them).
      if (bad && (ADDED_PACKAGES as readonly string[]).includes(bad.name)) {
        throw new TopoError(`apt has no package lists here (it cannot find ${bad.name}): packages: are resolved from them`, {
          code: 'E_PACKAGE_RESOLVE', hint: 'run apt-get update (in a container image, keep /var/lib/apt/lists)', stderrTail: tail, stderrSource: 'apt-get',
        });
      }
      if (bad) {
        const spec = specs.find((s) => parseSpec(s).name === bad.name) ?? bad.name;
        if (bad.version !== undefined) {
          throw new UnknownPackageError(spec, `package ${bad.name} has no version ${bad.version} in the host's package lists`, { hint: `apt-cache policy ${bad.name} lists the versions there are`, stderrTail: tail });
        }
        // apt-cache pkgnames also names installed packages that no list offers: never suggest the name itself.
        const near = await nearPackage(bad.name, signal).then((n) => (n === bad.name ? undefined : n), () => undefined);
        throw new UnknownPackageError(spec, `unknown package ${JSON.stringify(bad.name)}${near ? `; did you mean "${near}"?` : ''}`, {
          hint: near ? undefined : 'apt-cache search WORD finds package names; run apt-get update if the lists are old',
          stderrTail: tail,
        });
      }
      throw new TopoError(`apt cannot resolve packages ${specs.join(' ')}`, { code: 'E_PACKAGE_RESOLVE', hint: 'check the versions asked for; run apt-get update', stderrTail: tail, stderrSource: 'apt-get' });
    }
    const pkgs = parseSimulation(String(r.stdout));
    return pkgs.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
