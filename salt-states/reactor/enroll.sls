# Reactor for `ssr-recovery/router-agent/enroll`: a router agent announced its public key with
# `salt-call event.send`. The conductor-agent daemon records it itself from salt-api /events, and
# only when the announcement's statement verifies with that router's accepted minion key; this
# reaction only makes sure the daemon is running to hear it. `id` and `cmd` in the data prove
# nothing (a minion's batched event is fired verbatim, reference/salt.md §10), so the reaction does
# nothing that depends on them beyond this harmless start.
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
