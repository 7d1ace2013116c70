# Orchestration for a top-level master (or syndic) over an estate of conductors ("PODs",
# DESIGN.md "Beyond one conductor"): every conductor runs its own re-authentication wave over its own
# routers with conductor-agent, in parallel or a few PODs at a time. The conductors are minions of
# the top-level master, so this works while each conductor's own routers refuse it. Run:
#   salt-run state.orchestrate orch.estate-reauth pillar='{"ssr_recovery_estate": {"rate": 20, "pods_at_once": 4}}'
# 1. plan: `conductor-agent reauth … --dry-run --json` on every conductor (nothing changes); a
#    conductor that cannot plan (config, Salt, lock held) fails here and no wave starts anywhere.
# 2. wave: the same command without --dry-run, `pods_at_once` conductors at a time (Salt's batch).
#    A conductor that exits 5 (some routers not done) or 1 (none) fails the step for that conductor
#    only; its JSON report (conductor id, routers, outcomes, timings) is in the step's return, so
#    the reports of every POD merge. Re-running with resume: true retries only what is not done.
# Pillar keys read: ssr_recovery_estate:conductors (target, default grain 128t_role:conductor) and
# conductors_type (tgt_type, default grain); routers (minion id globs; empty = --all); rate
# (per conductor: each has its own master to protect); concurrency; pods_at_once (whole number;
# absent = all at once); plan_first (default true); dry_run (the plan only); resume;
# ssr_recovery:bin_dir, config_dir. Values are checked here, at render time.
{%- from 'ssr_recovery/map.jinja' import ssr with context %}
{%- set opts = salt['pillar.get']('ssr_recovery_estate', {}) %}
{%- set routers = opts.get('routers', []) %}
{%- set rate = opts.get('rate') %}
{%- set concurrency = opts.get('concurrency') %}
{%- set pods = opts.get('pods_at_once') %}
{%- set tgt = opts.get('conductors', '128t_role:conductor') %}
{%- set tgt_type = opts.get('conductors_type', 'grain') %}
{%- set problems = [] %}
{%- if routers is string or routers is mapping or routers is none %}
{%-   do problems.append('ssr_recovery_estate:routers must be a list of minion id globs') %}
{%- else %}
{%-   for r in routers if not (r is string and r | regex_match('^([\\w.*?!\\[\\]-]+)$')) %}
{%-     do problems.append('ssr_recovery_estate:routers: ' ~ r ~ ' is not a minion id glob') %}
{%-   endfor %}
{%- endif %}
{%- if rate is not none and not (rate | string | regex_match('^([0-9]+(\\.[0-9]+)?)(/s)?$')) %}
{%-   do problems.append('ssr_recovery_estate:rate must be a number of re-authentications per second') %}
{%- endif %}
{%- if concurrency is not none and not (concurrency | string | regex_match('^([1-9][0-9]*)$')) %}
{%-   do problems.append('ssr_recovery_estate:concurrency must be a positive whole number') %}
{%- endif %}
{%- if pods is not none and not (pods | string | regex_match('^([1-9][0-9]*)$')) %}
{%-   do problems.append('ssr_recovery_estate:pods_at_once must be a positive whole number') %}
{%- endif %}
{%- if not (tgt is string and tgt | regex_match('^([\\w.*?!:@,\\[\\] -]+)$')) %}
{%-   do problems.append('ssr_recovery_estate:conductors must be a Salt target (ids, globs, grain:value)') %}
{%- endif %}
{%- if tgt_type not in ['glob', 'list', 'grain', 'pcre', 'compound', 'nodegroup', 'pillar'] %}
{%-   do problems.append('ssr_recovery_estate:conductors_type must be a Salt target type') %}
{%- endif %}
{%- if problems %}
ssr_recovery_estate_pillar_invalid:
  test.fail_without_changes:
    - name: {{ ('invalid pillar: ' ~ problems | join('; ')) | json }}
{%- else %}
{%-   set argv = [ssr.bin_dir ~ '/conductor-agent', 'reauth', '--json', '--config', ssr.config_dir ~ '/conductor-agent.yaml'] %}
{%-   if rate is not none %}{% do argv.extend(['--rate', (rate | string | replace('/s', '')) ~ '/s']) %}{% endif %}
{%-   if concurrency is not none %}{% do argv.extend(['--concurrency', concurrency | string]) %}{% endif %}
{%-   if routers %}{% do argv.extend(['--routers'] + routers) %}{% else %}{% do argv.append('--all') %}{% endif %}
{%-   set plan = argv + ['--dry-run'] %}
{%-   set wave = argv + (['--resume'] if opts.get('resume') else []) %}
{%-   set plan_first = opts.get('plan_first', True) and not opts.get('dry_run') %}
{%-   if plan_first or opts.get('dry_run') %}
ssr_recovery_estate_plan:
  salt.function:
    - name: cmd.run
    - tgt: {{ tgt | json }}
    - tgt_type: {{ tgt_type | json }}
    - arg:
      - {{ plan | map('quote') | join(' ') | json }}
    - kwarg:
        python_shell: False
{%-   endif %}
{%-   if not opts.get('dry_run') %}
ssr_recovery_estate_wave:
  salt.function:
    - name: cmd.run
    - tgt: {{ tgt | json }}
    - tgt_type: {{ tgt_type | json }}
{%-     if pods is not none %}
    - batch: {{ pods | string | json }}
{%-     endif %}
    - arg:
      - {{ wave | map('quote') | join(' ') | json }}
    - kwarg:
        python_shell: False
{%-     if plan_first %}
    - require:
      - salt: ssr_recovery_estate_plan
{%-     endif %}
{%-   endif %}
{%- endif %}
