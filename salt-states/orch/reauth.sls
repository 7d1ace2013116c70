# Orchestration: re-authenticate routers to the conductor's current master key through the router
# agents (works while Salt to those routers is broken — that is the point). Run on a conductor:
#   salt-run state.orchestrate orch.reauth pillar='{"ssr_recovery_reauth": {"routers": ["router-*"], "rate": 20}}'
# Estate-wide (several PODs): target every conductor from the top-level master with the same state.
# Pillar keys read: ssr_recovery_reauth:routers (list of minion-id globs; empty = every enrolled
# router, `--all`), rate (re-auths per second: protects the master from an auth storm),
# concurrency, dry_run, resume, tgt and tgt_type (the conductor minions; default grain
# 128t_role:conductor); ssr_recovery:bin_dir, config_dir. Values are checked here, at render time.
{%- from 'ssr_recovery/map.jinja' import ssr with context %}
{%- set opts = salt['pillar.get']('ssr_recovery_reauth', {}) %}
{%- set routers = opts.get('routers', []) %}
{%- set rate = opts.get('rate') %}
{%- set concurrency = opts.get('concurrency') %}
{%- set problems = [] %}
{%- if routers is string or routers is mapping or routers is none %}
{%-   do problems.append('ssr_recovery_reauth:routers must be a list of minion id globs') %}
{%- else %}
{%-   for r in routers if not (r is string and r | regex_match('^([\\w.*?!\\[\\]-]+)$')) %}
{%-     do problems.append('ssr_recovery_reauth:routers: ' ~ r ~ ' is not a minion id glob') %}
{%-   endfor %}
{%- endif %}
{%- if rate is not none and not (rate | string | regex_match('^([0-9]+(\\.[0-9]+)?)(/s)?$')) %}
{%-   do problems.append('ssr_recovery_reauth:rate must be a number of re-authentications per second') %}
{%- endif %}
{%- if concurrency is not none and not (concurrency | string | regex_match('^([1-9][0-9]*)$')) %}
{%-   do problems.append('ssr_recovery_reauth:concurrency must be a positive whole number') %}
{%- endif %}
{%- if problems %}
ssr_recovery_reauth_pillar_invalid:
  test.fail_without_changes:
    - name: {{ ('invalid pillar: ' ~ problems | join('; ')) | json }}
{%- else %}
{%-   set argv = [ssr.bin_dir ~ '/conductor-agent', 'reauth', '--json', '--config', ssr.config_dir ~ '/conductor-agent.yaml'] %}
{%-   if rate is not none %}{% do argv.extend(['--rate', (rate | string | replace('/s', '')) ~ '/s']) %}{% endif %}
{%-   if concurrency is not none %}{% do argv.extend(['--concurrency', concurrency | string]) %}{% endif %}
{%-   if opts.get('dry_run') %}{% do argv.append('--dry-run') %}{% endif %}
{%-   if opts.get('resume') %}{% do argv.append('--resume') %}{% endif %}
{%-   if routers %}{% do argv.extend(['--routers'] + routers) %}{% else %}{% do argv.append('--all') %}{% endif %}
ssr_recovery_reauth:
  salt.function:
    - name: cmd.run
    - tgt: {{ opts.get('tgt', '128t_role:conductor') | json }}
    - tgt_type: {{ opts.get('tgt_type', 'grain') | json }}
    - arg:
      - {{ argv | map('quote') | join(' ') | json }}
    - kwarg:
        python_shell: False
{%- endif %}
