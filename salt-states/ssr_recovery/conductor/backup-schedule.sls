# Backups on a schedule, one of two ways: the daemon's own scheduler (backup:schedule, cron syntax,
# written into its config by conductor.install), or — when backup:timer is set — a systemd timer
# (OnCalendar=) starting a oneshot `conductor-agent backup create`, and the daemon's schedule left
# out. Also makes sure the backup folder exists and is private. For a Salt-driven schedule instead,
# see ../../pillar.example (`schedule:` calling `cmd.run` of `conductor-agent backup create --json`).
# Pillar keys read: ssr_recovery:conductor:backup:dir, schedule, timer, unit_dir, manage_services.
{%- from 'ssr_recovery/map.jinja' import ssr with context %}
{%- set timer = ssr.conductor.backup.timer %}
include:
  - ssr_recovery.conductor.install
{%- if not ssr.problems %}

ssr_recovery_backup_dir:
  file.directory:
    - name: {{ ssr.conductor.backup.dir }}
    - mode: '0700'
    - makedirs: True
{%- for unit in ['conductor-agent-backup.service', 'conductor-agent-backup.timer'] %}

ssr_recovery_backup_{{ unit | replace('-', '_') | replace('.', '_') }}:
{%-   if timer %}
  file.managed:
    - name: {{ ssr.unit_dir }}/{{ unit }}
    - source: salt://ssr_recovery/files/{{ unit }}
    - template: jinja
    - makedirs: True
    - mode: '0644'
    - context:
        ssr: {{ ssr | json }}
{%-   else %}
  file.absent:
    - name: {{ ssr.unit_dir }}/{{ unit }}
{%-   endif %}
{%- endfor %}
{%- if timer and ssr.manage_services %}

ssr_recovery_backup_timer_running:
  service.running:
    - name: conductor-agent-backup.timer
    - enable: True
    - watch:
      - file: ssr_recovery_backup_conductor_agent_backup_service
      - file: ssr_recovery_backup_conductor_agent_backup_timer
{%- elif ssr.manage_services %}

ssr_recovery_backup_timer_dead:
  service.dead:
    - name: conductor-agent-backup.timer
    - enable: False
    - require_in:
      - file: ssr_recovery_backup_conductor_agent_backup_timer
{%- endif %}
{%- endif %}
