# Installs the router-agent (the router artifact: one bundle and its config loader, nothing of the
# conductor or its sandbox) under the prefix, `router-agent` on the PATH as a wrapper in bin_dir,
# and its config pinning the conductor-agent's signing key and TLS certificate fingerprint
# (DESIGN.md trust model, rule 2). Refuses to install without both pins: an agent that trusts
# nothing cannot be commanded, and one that trusts anything is worse.
# Pillar keys read: ssr_recovery:router_source, prefix, bin_dir, config_dir, node:*, router:*
# (see defaults.yaml).
{%- from 'ssr_recovery/map.jinja' import ssr with context %}
{%- set r = ssr.router %}
{%- set problems = [] %}
{%- if not r.conductor_agent_public_key or not r.conductor_cert_fingerprint %}
{%-   do problems.append('ssr_recovery:router:conductor_agent_public_key and conductor_cert_fingerprint must be '
                         ~ 'set (conductor-agent keys status --json prints both)') %}
{%- endif %}
{%- if r.conductor_addresses is string or r.conductor_addresses is mapping %}
{%-   do problems.append('ssr_recovery:router:conductor_addresses must be a list of host or host:port') %}
{%- else %}
{%-   for a in r.conductor_addresses if not (a is string and a | regex_match('^([\\w.:\\[\\]-]+)$')) %}
{%-     do problems.append('ssr_recovery:router:conductor_addresses: ' ~ a ~ ' is not a host or host:port') %}
{%-   endfor %}
{%- endif %}
include:
  - ssr_recovery.runtime
{%- if not ssr.problems %}
{%- if problems %}

ssr_recovery_router_pillar_invalid:
  test.fail_without_changes:
    - name: {{ problems | join('; ') | json }}
{%- else %}

ssr_recovery_router_package:
  archive.extracted:
    - name: {{ ssr.prefix }}
    - source: {{ ssr.router_source }}
    - source_hash: {{ ssr.router_source }}.sha256
    - source_hash_update: True
    - enforce_toplevel: False
    - options: --strip-components=1
    - makedirs: True
    - require:
      - test: ssr_recovery_node_runtime

ssr_recovery_router_command:
  file.managed:
    - name: {{ ssr.bin_dir }}/router-agent
    - mode: '0755'
    - makedirs: True
    - contents: |
        #!/bin/sh
        # Managed by Salt (ssr_recovery.router.install): router-agent from {{ ssr.prefix }}.
        exec {{ ssr.node.bin | quote }} {{ (ssr.prefix ~ '/dist/router-agent/router-agent.cjs') | quote }} "$@"
    - require:
      - archive: ssr_recovery_router_package

ssr_recovery_router_state_dir:
  file.directory:
    - name: {{ r.state_dir }}
    - mode: '0700'
    - makedirs: True

ssr_recovery_router_config:
  file.managed:
    - name: {{ ssr.config_dir }}/router-agent.yaml
    - source: salt://ssr_recovery/files/router-agent.yaml.jinja
    - template: jinja
    - makedirs: True
    - mode: '0640'
    - context:
        ssr: {{ ssr | json }}
{%- endif %}
{%- endif %}
