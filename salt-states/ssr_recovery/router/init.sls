# ssr_recovery.router: the router-agent on a router (install with the conductor pins, daemon).
# Pillar keys read: ssr_recovery:* (see defaults.yaml).
include:
  - ssr_recovery.router.install
  - ssr_recovery.router.service
