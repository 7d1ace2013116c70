# Runs `conductor-agent daemon` under systemd (scheduled backups, the router-agent channel).
# Pillar keys read: ssr_recovery:prefix, node_bin, config_dir.
{%- from 'ssr_recovery/map.jinja' import ssr with context %}
include:
  - ssr_recovery.conductor.install

ssr_recovery_conductor_unit:
  file.managed:
    - name: /etc/systemd/system/conductor-agent.service
    - source: salt://ssr_recovery/files/conductor-agent.service
    - template: jinja
    - context:
        ssr: {{ ssr | json }}

ssr_recovery_conductor_running:
  service.running:
    - name: conductor-agent
    - enable: True
    - watch:
      - file: ssr_recovery_conductor_unit
      - file: ssr_recovery_conductor_config
      - archive: ssr_recovery_conductor_package
