# Runs `conductor-agent daemon` under systemd (scheduled backups, the router-agent channel), from
# the files conductor.install put under the prefix. With manage_services False the unit is written
# but not enabled or started (hosts without systemd, rehearsals).
# Pillar keys read: ssr_recovery:prefix, node:bin, config_dir, unit_dir, manage_services, conductor:*.
{%- from 'ssr_recovery/map.jinja' import ssr with context %}
include:
  - ssr_recovery.conductor.install
{%- if not ssr.problems %}

ssr_recovery_conductor_unit:
  file.managed:
    - name: {{ ssr.unit_dir }}/conductor-agent.service
    - source: salt://ssr_recovery/files/conductor-agent.service
    - template: jinja
    - makedirs: True
    - mode: '0644'
    - context:
        ssr: {{ ssr | json }}
{%- if ssr.manage_services %}

ssr_recovery_conductor_running:
  service.running:
    - name: conductor-agent
    - enable: True
    - watch:
      - file: ssr_recovery_conductor_unit
      - file: ssr_recovery_conductor_config
      - archive: ssr_recovery_conductor_package
{%- endif %}
{%- endif %}
