# Reactor for `salt/auth`: a minion that fails authentication may hold a stale master key. Salt's
# master cannot see that case (reference/salt.md §10: a stale key still shows act: accept), so the
# router agents detect it; this reaction covers what the master does see — a key that is pending
# after a rebuild — by asking the conductor-agent to accept it only when it matches what that
# router's agent reported (never a blind accept: DESIGN.md trust model, rule 4).
# Master config:
#   reactor:
#     - 'salt/auth':
#       - salt://reactor/auth-failure.sls
# Pillar keys read: none (reactors see only tag and data).
{%- if data.get('cmd') != '_minion_event' and data.get('act') == 'pend' and data.get('pub') %}
ssr_recovery_verified_accept_{{ data['id'] | replace('.', '_') }}:
  local.cmd.run:
    - tgt: '128t_role:conductor'
    - tgt_type: grain
    - args:
      - cmd: conductor-agent keys accept --verified --json --minion {{ data['id'] | quote }}
      - python_shell: False
{%- endif %}
