# Reactor for `ssr-recovery/router-agent/enroll`: a router agent announced its public key with
# `salt-call event.send`. The conductor-agent daemon records it itself from salt-api /events; this
# reaction only makes sure the daemon is running to hear it. Only events that really came from a
# minion (cmd == _minion_event, so the master checked the id against the minion's key) are used:
# anyone on the master bus could otherwise fire this tag with a forged id (reference/salt.md §7.2).
# Master config:
#   reactor:
#     - 'ssr-recovery/router-agent/enroll':
#       - salt://reactor/enroll.sls
# Pillar keys read: none (reactors see only tag and data).
{%- if data.get('cmd') == '_minion_event' and data.get('id') and data.get('data', {}).get('agentPublicKey') %}
ssr_recovery_enroll_{{ data['id'] | replace('.', '_') }}:
  local.service.start:
    - tgt: '128t_role:conductor'
    - tgt_type: grain
    - args:
      - name: conductor-agent
{%- endif %}
