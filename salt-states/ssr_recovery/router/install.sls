# Installs the router-agent and pins the conductor-agent's signing key and TLS certificate
# fingerprint (DESIGN.md trust model, rule 2). Refuses to render without them: an agent that trusts
# nothing cannot be commanded, and one that trusts anything is worse.
# Pillar keys read: ssr_recovery:source, prefix, config_dir, router:* (see defaults.yaml).
{%- from 'ssr_recovery/map.jinja' import ssr with context %}
{%- if not ssr.router.conductor_agent_public_key or not ssr.router.conductor_cert_fingerprint %}
ssr_recovery_router_pins_missing:
  test.fail_without_changes:
    - name: >-
        ssr_recovery:router:conductor_agent_public_key and conductor_cert_fingerprint must be set in pillar
        (conductor-agent keys status --json prints both)
{%- else %}
ssr_recovery_router_prefix:
  file.directory:
    - name: {{ ssr.prefix }}
    - mode: '0755'

ssr_recovery_router_package:
  archive.extracted:
    - name: {{ ssr.prefix }}
    - source: {{ ssr.source }}
    - enforce_toplevel: False
    - options: --strip-components=1
    - require:
      - file: ssr_recovery_router_prefix

ssr_recovery_router_state_dir:
  file.directory:
    - name: {{ ssr.router.state_dir }}
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
