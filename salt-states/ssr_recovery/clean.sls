# Undoes ssr_recovery in reverse order: stops and removes the services and the installed files.
# Keeps the state folders (signing keys, registry, router agent keys) and the backups: removing
# those is an operator's decision, never a side effect of a state run.
# Pillar keys read: ssr_recovery:prefix, config_dir.
{%- from 'ssr_recovery/map.jinja' import ssr with context %}
{%- for unit in ['conductor-agent', 'router-agent'] %}
ssr_recovery_clean_{{ unit }}_dead:
  service.dead:
    - name: {{ unit }}
    - enable: False

ssr_recovery_clean_{{ unit }}_unit:
  file.absent:
    - name: /etc/systemd/system/{{ unit }}.service
    - require:
      - service: ssr_recovery_clean_{{ unit }}_dead

ssr_recovery_clean_{{ unit }}_config:
  file.absent:
    - name: {{ ssr.config_dir }}/{{ unit }}.yaml
{%- endfor %}

ssr_recovery_clean_prefix:
  file.absent:
    - name: {{ ssr.prefix }}
