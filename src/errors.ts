// Errors with context fields, in the spirit of execa's ExecaError: the CLI prints one line from them.

export interface TopoErrorFields {
  code: string;
  hint?: string;
  node?: string;
  link?: string;
  file?: string;
  line?: number;
  column?: number;
  /** Tail of QEMU's (or a helper's) stderr. */
  stderrTail?: string;
  /** Program whose stderr `stderrTail` is, for its label (e.g. apt-get); QEMU when unset. */
  stderrSource?: string;
  consoleTail?: string;
  cause?: unknown;
}

export class TopoError extends Error {
  override readonly name = 'TopoError';
  readonly code: string;
  readonly hint?: string;
  readonly node?: string;
  readonly link?: string;
  readonly file?: string;
  readonly line?: number;
  readonly column?: number;
  readonly stderrTail?: string;
  readonly stderrSource?: string;
  readonly consoleTail?: string;

  constructor(message: string, fields: TopoErrorFields) {
    super(message, fields.cause === undefined ? undefined : { cause: fields.cause });
    this.code = fields.code;
    this.hint = fields.hint;
    this.node = fields.node;
    this.link = fields.link;
    this.file = fields.file;
    this.line = fields.line;
    this.column = fields.column;
    this.stderrTail = fields.stderrTail;
    this.stderrSource = fields.stderrSource;
    this.consoleTail = fields.consoleTail;
  }

  /** One line for humans: "[file:line:col: ][node: ]message (hint)". */
  oneLine(): string {
    const where = this.file ? `${this.file}${this.line ? `:${this.line}:${this.column ?? 1}` : ''}: ` : '';
    const who = this.node ? `${this.node}: ` : '';
    return `${where}error: ${who}${this.message}${this.hint ? ` (${this.hint})` : ''}`;
  }
}

export function isTopoError(e: unknown): e is TopoError {
  return e instanceof TopoError;
}
