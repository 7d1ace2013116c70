# Installs ssr-recovery on a conductor node: the conductor artifact (the conductor-agent bundle with
# its dependencies, run by a plain node) under the prefix, `conductor-agent` (and `router-agent`, for
# the drill) on the PATH as wrappers in bin_dir, and the conductor-agent configuration.
# Pillar keys read: ssr_recovery:conductor_source, prefix, bin_dir, config_dir, node:*, conductor:*
# (see defaults.yaml).
{%- from 'ssr_recovery/map.jinja' import ssr with context %}
{%- set schedule = '' if ssr.conductor.backup.timer else ssr.conductor.backup.schedule %}
include:
  - ssr_recovery.runtime
{%- if not ssr.problems %}

ssr_recovery_conductor_package:
  archive.extracted:
    - name: {{ ssr.prefix }}
    - source: {{ ssr.conductor_source }}
    - source_hash: {{ ssr.conductor_source }}.sha256
    - source_hash_update: True
    - enforce_toplevel: False
    - options: --strip-components=1
    - makedirs: True
    - require:
      - test: ssr_recovery_node_runtime
{%- for cmd, script in [('conductor-agent', 'dist/conductor-agent/bundle/conductor-agent.js'),
                        ('router-agent', 'dist/router-agent/router-agent.cjs')] %}

ssr_recovery_conductor_{{ cmd | replace('-', '_') }}_command:
  file.managed:
    - name: {{ ssr.bin_dir }}/{{ cmd }}
    - mode: '0755'
    - makedirs: True
    - contents: |
        #!/bin/sh
        # Managed by Salt (ssr_recovery.conductor.install): {{ cmd }} from {{ ssr.prefix }}.
        exec {{ ssr.node.bin | quote }} {{ (ssr.prefix ~ '/' ~ script) | quote }} "$@"
    - require:
      - archive: ssr_recovery_conductor_package
{%- endfor %}

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
        schedule: {{ schedule | json }}
{%- endif %}
