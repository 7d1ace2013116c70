# Installs ssr-recovery on a conductor node and writes the conductor-agent configuration.
# Pillar keys read: ssr_recovery:source, prefix, config_dir, conductor:* (see defaults.yaml).
{%- from 'ssr_recovery/map.jinja' import ssr with context %}

ssr_recovery_conductor_prefix:
  file.directory:
    - name: {{ ssr.prefix }}
    - mode: '0755'

ssr_recovery_conductor_package:
  archive.extracted:
    - name: {{ ssr.prefix }}
    - source: {{ ssr.source }}
    - enforce_toplevel: False
    - options: --strip-components=1
    - require:
      - file: ssr_recovery_conductor_prefix

ssr_recovery_conductor_state_dir:
  file.directory:
    - name: {{ ssr.conductor.state_dir }}
    - mode: '0700'
    - makedirs: True

ssr_recovery_conductor_config:
  file.managed:
    - name: {{ ssr.config_dir }}/conductor-agent.yaml
    - source: salt://ssr_recovery/files/conductor-agent.yaml.jinja
    - template: jinja
    - makedirs: True
    - mode: '0640'
    - context:
        ssr: {{ ssr | json }}
