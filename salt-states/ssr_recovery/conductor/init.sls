# ssr_recovery.conductor: the conductor-agent on a conductor node (install, daemon, backup schedule).
# Pillar keys read: ssr_recovery:* (see defaults.yaml).
include:
  - ssr_recovery.conductor.install
  - ssr_recovery.conductor.service
  - ssr_recovery.conductor.backup-schedule
