// What the semantic rules may ask of the world: injected, so the rules stay pure.
export type FileKind = 'file' | 'directory' | 'missing';

export interface RuleContext {
  /** Directory of the topology file: relative paths are resolved against it. */
  dir: string;
  /** Injected so the rules stay testable without a filesystem. */
  fileKind: (absPath: string) => FileKind;
}
