// Counts bad input rows and keeps the first few with file and line, or throws at the first one in strict mode.

export interface ReadIssue {
  file: string;
  line: number;
  reason: string;
}

export const MAX_KEPT_ISSUES = 20;

export class IssueLog {
  readonly examples: ReadIssue[] = [];
  count = 0;

  constructor(
    readonly strict = false,
    readonly maxKept = MAX_KEPT_ISSUES,
  ) {}

  /** Records one bad row; in strict mode throws an Error naming the reader, file and line. */
  add(reader: string, file: string, line: number, reason: string): void {
    if (this.strict) throw new Error(`${reader}: ${file}:${line}: ${reason}`);
    this.count++;
    if (this.examples.length < this.maxKept) this.examples.push({ file, line, reason });
  }
}
