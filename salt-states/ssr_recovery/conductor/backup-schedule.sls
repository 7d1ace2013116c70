# Backups on a schedule. The daemon runs them itself from `backup.schedule` (cron syntax) in its
# config; this state only ensures the config carries the pillar's schedule and that the backup
# folder exists with private permissions. For a Salt-driven schedule instead, see
# ../../pillar.example (`schedule:` calling `cmd.run` of `conductor-agent backup create --json`).
# Pillar keys read: ssr_recovery:conductor:backup:dir, schedule.
{%- from 'ssr_recovery/map.jinja' import ssr with context %}
include:
  - ssr_recovery.conductor.install

ssr_recovery_backup_dir:
  file.directory:
    - name: {{ ssr.conductor.backup.dir }}
    - makedirs: True
