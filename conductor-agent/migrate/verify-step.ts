/**
 * Step 5, verify: the router ports listen on every new address, every migrated router is Running on the
 * new conductor (as its API says, not as we hope), and their minions answer `test.ping` through the new
 * conductor's salt-api when one is configured. Also what `verify --conductor` runs on its own.
 */
import { checkMinions, checkPorts, type CheckResult } from '../verify/checks.js';
import type { ConfiguredRouter } from '../ssr/conductor.js';
import type { AssetWatch } from './asset-watch.js';
import type { MigrateDeps } from './deps.js';
import { allRunning } from './plan.js';

export async function verifyStep(
  d: MigrateDeps,
  watch: AssetWatch,
  routers: ConfiguredRouter[],
): Promise<CheckResult[]> {
  const checks: CheckResult[] = [await checkPorts(d.args.to, d.settings.ports, d.probe)];
  await watch.refresh();
  const notRunning = routers.filter((r) => !allRunning(watch.seen(r.name))).map((r) => r.name);
  checks.push({
    name: 'routers',
    status: notRunning.length ? 'fail' : 'pass',
    summary: notRunning.length
      ? `not Running on the new conductor: ${notRunning.slice(0, 20).join(', ')}`
      : `${routers.length} router(s) Running on the new conductor`,
    ...(notRunning.length ? { details: { notRunning } } : {}),
  });
  const ids = routers.flatMap((r) => r.nodes.map((n) => n.assetId ?? '')).filter(Boolean);
  checks.push(
    ids.length && d.ping
      ? await checkMinions(d.ping, ids)
      : {
          name: 'minions',
          status: 'skip',
          summary: d.ping
            ? 'no minion to ping'
            : "the new conductor's salt-api is not configured (migrate.to.saltApiUrl)",
        },
  );
  return checks;
}
