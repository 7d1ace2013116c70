# Reactor for `salt/auth`: a minion that fails authentication may hold a stale master key. Salt's
# master cannot see that case (reference/salt.md §10: a stale key still shows act: accept), so the
# router agents detect it; this reaction covers what the master does see — a key that is pending
# after a rebuild — by asking the conductor-agent to accept it only when its fingerprint matches
# the one that router's enrolled agent reported (`keys accept --verified` takes the expected
# fingerprints from the router-agent registry; it never accepts without them: DESIGN.md trust
# model, rule 4). The minion id in the event is the claimant's word, so it is checked to be a plain
# id before it reaches a command line, and the command line is split without a shell.
# Master config:
#   reactor:
#     - 'salt/auth':
#       - salt://reactor/auth-failure.sls
# Pillar keys read: none (reactors see only tag and data); the command is `conductor-agent` on the
# conductor minion's PATH (ssr_recovery:bin_dir, /usr/local/bin by default).
{%- set id = data.get('id') %}
{%- if data.get('cmd') != '_minion_event' and data.get('act') == 'pend' and data.get('pub')
      and id is string and id | regex_match('^([A-Za-z0-9][\\w.-]{0,254})$') %}
ssr_recovery_verified_accept_{{ id | replace('.', '_') | replace('-', '_') }}:
  local.cmd.run:
    - tgt: '128t_role:conductor'
    - tgt_type: grain
    - args:
      - cmd: {{ ['conductor-agent', 'keys', 'accept', '--verified', '--json', '--minion', id] | map('quote') | join(' ') | json }}
      - python_shell: False
{%- endif %}
