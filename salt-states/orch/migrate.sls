# Orchestration: migrate routers to a new conductor address (the seed's "Migrating to a New
# Conductor"), resumable. Run on the old conductor:
#   salt-run state.orchestrate orch.migrate pillar='{"ssr_recovery_migrate": {"to": ["192.0.2.10", "192.0.2.11"]}}'
# Pillar keys read: ssr_recovery_migrate:to (1 or 2 addresses: the new conductor, or both nodes of
# an HA pair), from, routers (one minion-id glob), rate (per second), dry_run, resume,
# rollback_on_failure, tgt and tgt_type (default grain 128t_role:conductor); ssr_recovery:bin_dir,
# config_dir. Values are checked here, at render time.
{%- from 'ssr_recovery/map.jinja' import ssr with context %}
{%- set opts = salt['pillar.get']('ssr_recovery_migrate', {}) %}
{%- set to = opts.get('to', []) %}
{%- set to = [to] if to is string else to %}
{%- set addr = '^([\\w.:\\[\\]-]+)$' %}
{%- set problems = [] %}
{%- if to is mapping or to is none or not (1 <= to | length <= 2) %}
{%-   do problems.append('ssr_recovery_migrate:to must be one address or two (an HA pair)') %}
{%- else %}
{%-   for a in to if not (a is string and a | regex_match(addr)) %}
{%-     do problems.append('ssr_recovery_migrate:to: ' ~ a ~ ' is not an address') %}
{%-   endfor %}
{%- endif %}
{%- if opts.get('from') is not none and not (opts['from'] is string and opts['from'] | regex_match(addr)) %}
{%-   do problems.append('ssr_recovery_migrate:from must be an address') %}
{%- endif %}
{%- if opts.get('routers') is not none and not (opts['routers'] is string and opts['routers'] | regex_match('^([\\w.*?!\\[\\]-]+)$')) %}
{%-   do problems.append('ssr_recovery_migrate:routers must be one minion id glob') %}
{%- endif %}
{%- if opts.get('rate') is not none and not (opts['rate'] | string | regex_match('^(0*[1-9][0-9]*(\\.[0-9]+)?|0*\\.[0-9]*[1-9][0-9]*)(/s)?$')) %}
{%-   do problems.append('ssr_recovery_migrate:rate must be a number of routers per second') %}
{%- endif %}
{%- if problems %}
ssr_recovery_migrate_pillar_invalid:
  test.fail_without_changes:
    - name: {{ ('invalid pillar: ' ~ problems | join('; ')) | json }}
{%- else %}
{%-   set argv = [ssr.bin_dir ~ '/conductor-agent', 'migrate', '--json', '--config', ssr.config_dir ~ '/conductor-agent.yaml',
                  '--to', to | join(',')] %}
{%-   if opts.get('from') %}{% do argv.extend(['--from', opts['from']]) %}{% endif %}
{%-   if opts.get('routers') %}{% do argv.extend(['--routers', opts['routers']]) %}{% endif %}
{%-   if opts.get('rate') is not none %}{% do argv.extend(['--rate', (opts['rate'] | string | replace('/s', '')) ~ '/s']) %}{% endif %}
{%-   if opts.get('dry_run') %}{% do argv.append('--dry-run') %}{% endif %}
{%-   if opts.get('resume') %}{% do argv.append('--resume') %}{% endif %}
{%-   if opts.get('rollback_on_failure') %}{% do argv.append('--rollback-on-failure') %}{% endif %}
ssr_recovery_migrate:
  salt.function:
    - name: cmd.run
    - tgt: {{ opts.get('tgt', '128t_role:conductor') | json }}
    - tgt_type: {{ opts.get('tgt_type', 'grain') | json }}
    - arg:
      - {{ argv | map('quote') | join(' ') | json }}
    - kwarg:
        python_shell: False
{%- endif %}
