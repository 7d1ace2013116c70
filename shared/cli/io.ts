/**
 * What a CLI run talks to: output streams, environment, and whether stdout is a terminal. Passed in
 * so commands run in-process in tests and print exactly what the real bins print.
 */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
  /** True when stdout is an interactive terminal (progress bars, colours). */
  isTTY: boolean;
  /** Where stdin comes from, for confirmations; undefined = non-interactive. */
  stdin?: NodeJS.ReadableStream | undefined;
}

export const processIo = (): CliIo => ({
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  env: process.env,
  isTTY: Boolean(process.stdout.isTTY),
  stdin: process.stdin.isTTY ? process.stdin : undefined,
});

/** Options every command takes (DESIGN.md operator interface). */
export interface GlobalOptions {
  json: boolean;
  root: string;
  config?: string | undefined;
  logLevel?: string | undefined;
}
