/**
 * The SSR version for the manifest, "when known". SSR installs as the RPM package `128T` (the
 * package name is the most likely default and is not confirmed in reference/ssr.md), so on a real
 * conductor `rpm -q 128T` answers. Under a --root prefix (a rehearsal or test tree) the host's rpm
 * database says nothing about the tree, so nothing is asked. Any failure means "unknown".
 */
import type { ProcessRunner } from '../../shared/ports/process-runner.js';

export async function probeSsrVersion(runner: ProcessRunner, root: string, pkg = '128T'): Promise<string | undefined> {
  if (root !== '/' && root !== '') return undefined;
  try {
    const r = await runner.run(['rpm', '-q', '--queryformat', '%{VERSION}-%{RELEASE}', pkg], { timeoutMs: 5_000 });
    const v = r.stdout.trim();
    return r.code === 0 && /^[0-9][\w.+-]*$/.test(v) ? v : undefined;
  } catch {
    return undefined;
  }
}
