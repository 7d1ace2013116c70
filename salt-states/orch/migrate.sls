# Orchestration: migrate routers to a new conductor address (the seed's "Migrating to a New
# Conductor"), one conductor at a time, resumable. Run on the old conductor:
#   salt-run state.orchestrate orch.migrate pillar='{"ssr_recovery_migrate": {"to": ["192.0.2.10"]}}'
# Pillar keys read: ssr_recovery_migrate:to (1 or 2 addresses), ssr_recovery_migrate:routers.
{%- set opts = salt['pillar.get']('ssr_recovery_migrate', {}) %}
ssr_recovery_migrate:
  salt.function:
    - name: cmd.run
    - tgt: '128t_role:conductor'
    - tgt_type: grain
    - arg:
      - >-
        conductor-agent migrate --json
        {%- for a in opts.get('to', []) %} --to {{ a | quote }}{%- endfor %}
        {%- for r in opts.get('routers', []) %} --router {{ r | quote }}{%- endfor %}
    - kwarg:
        python_shell: False
