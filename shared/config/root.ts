/**
 * The root prefix rule, zod-free so the router agent's fast start path can use it (schema.ts
 * re-exports it for everything else): one definition of how a system path sits under `--root`.
 */

/** Resolve an absolute system path under the root prefix (`/` on a real host). */
export function underRoot(root: string, systemPath: string): string {
  if (root === '/' || root === '') return systemPath;
  return root.replace(/\/+$/, '') + (systemPath.startsWith('/') ? systemPath : `/${systemPath}`);
}
