# ssr_recovery: installs and runs the conductor-agent on conductors and the router-agent on
# routers, chosen by the grain `128t_role` (reference/ssr.md §3.5).
# Pillar keys read: ssr_recovery:* (see defaults.yaml).
include:
{%- if salt['grains.get']('128t_role') == 'conductor' %}
  - ssr_recovery.conductor
{%- else %}
  - ssr_recovery.router
{%- endif %}
