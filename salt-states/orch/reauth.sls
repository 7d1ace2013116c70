# Orchestration: re-authenticate routers to the conductor's current master key through the router
# agents (works while Salt to those routers is broken — that is the point). Run on a conductor:
#   salt-run state.orchestrate orch.reauth pillar='{"ssr_recovery_reauth": {"routers": ["router-1"]}}'
# Estate-wide (several PODs): target every conductor from the top-level master with the same state.
# Pillar keys read: ssr_recovery_reauth:routers (list; empty = every enrolled router),
# ssr_recovery_reauth:rate (re-auths per second, protects the master from an auth storm).
{%- set opts = salt['pillar.get']('ssr_recovery_reauth', {}) %}
{%- set routers = opts.get('routers', []) %}
ssr_recovery_reauth:
  salt.function:
    - name: cmd.run
    - tgt: '128t_role:conductor'
    - tgt_type: grain
    - arg:
      - >-
        conductor-agent reauth --json
        {%- for r in routers %} --router {{ r | quote }}{%- endfor %}
        {%- if opts.get('rate') %} --rate {{ opts['rate'] | int }}{%- endif %}
    - kwarg:
        python_shell: False
