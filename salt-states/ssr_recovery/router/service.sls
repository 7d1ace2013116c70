# Runs `router-agent daemon` under systemd. The agent keeps working when the minion does not (that
# is when it is needed), so it is a unit of its own, not a minion-managed process. With
# manage_services False the unit is written but not enabled or started.
# Pillar keys read: ssr_recovery:prefix, node:bin, config_dir, unit_dir, manage_services, router:*.
{%- from 'ssr_recovery/map.jinja' import ssr with context %}
include:
  - ssr_recovery.router.install
{%- if not ssr.problems %}

ssr_recovery_router_unit:
  file.managed:
    - name: {{ ssr.unit_dir }}/router-agent.service
    - source: salt://ssr_recovery/files/router-agent.service
    - template: jinja
    - makedirs: True
    - mode: '0644'
    - context:
        ssr: {{ ssr | json }}
{%- if ssr.manage_services %}

ssr_recovery_router_running:
  service.running:
    - name: router-agent
    - enable: True
    - watch:
      - file: ssr_recovery_router_unit
      - file: ssr_recovery_router_config
      - archive: ssr_recovery_router_package
{%- endif %}
{%- endif %}
