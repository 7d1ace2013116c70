# Runs `router-agent daemon` under systemd. The agent keeps working when the minion does not (that
# is when it is needed), so it is a unit of its own, not a minion-managed process.
# Pillar keys read: ssr_recovery:prefix, node_bin, config_dir.
{%- from 'ssr_recovery/map.jinja' import ssr with context %}
include:
  - ssr_recovery.router.install

ssr_recovery_router_unit:
  file.managed:
    - name: /etc/systemd/system/router-agent.service
    - source: salt://ssr_recovery/files/router-agent.service
    - template: jinja
    - context:
        ssr: {{ ssr | json }}

ssr_recovery_router_running:
  service.running:
    - name: router-agent
    - enable: True
    - watch:
      - file: ssr_recovery_router_unit
      - file: ssr_recovery_router_config
