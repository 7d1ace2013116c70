# Undoes ssr_recovery in reverse order: stops and removes the services, units, wrappers on the PATH,
# configs and the installed files under the prefix. Keeps the state folders (signing keys, registry,
# router agent keys) and the backups: removing those is an operator's decision, never a side effect
# of a state run.
# Pillar keys read: ssr_recovery:prefix, bin_dir, unit_dir, config_dir, manage_services.
{%- from 'ssr_recovery/map.jinja' import ssr with context %}
{%- if ssr.problems %}
ssr_recovery_clean_pillar_invalid:
  test.fail_without_changes:
    - name: {{ ('invalid pillar: ' ~ ssr.problems | join('; ')) | json }}
{%- else %}
{%- for unit in ['conductor-agent-backup.timer', 'conductor-agent-backup.service', 'conductor-agent.service',
                 'router-agent.service'] %}
{%-   set id = unit | replace('-', '_') | replace('.', '_') %}
{%-   if ssr.manage_services %}

ssr_recovery_clean_{{ id }}_dead:
  service.dead:
    - name: {{ unit }}
    - enable: False
    - require_in:
      - file: ssr_recovery_clean_{{ id }}
{%-   endif %}

ssr_recovery_clean_{{ id }}:
  file.absent:
    - name: {{ ssr.unit_dir }}/{{ unit }}
{%- endfor %}
{%- for cmd in ['conductor-agent', 'router-agent'] %}

ssr_recovery_clean_{{ cmd | replace('-', '_') }}_command:
  file.absent:
    - name: {{ ssr.bin_dir }}/{{ cmd }}

ssr_recovery_clean_{{ cmd | replace('-', '_') }}_config:
  file.absent:
    - name: {{ ssr.config_dir }}/{{ cmd }}.yaml
{%- endfor %}

ssr_recovery_clean_prefix:
  file.absent:
    - name: {{ ssr.prefix }}
{%- endif %}
