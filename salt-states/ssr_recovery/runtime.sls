# The Node.js runtime both agents run on (SSR conductors and routers ship none): installs the
# package the operator names, then refuses, with what to set, unless node_bin is Node >= 20.
# Also the render-time pillar checks of map.jinja (one failing state listing every problem).
# Pillar keys read: ssr_recovery:node:pkg, node:bin, prefix, bin_dir, unit_dir, config_dir.
{%- from 'ssr_recovery/map.jinja' import ssr with context %}
{%- if ssr.problems %}
ssr_recovery_pillar_invalid:
  test.fail_without_changes:
    - name: {{ ('invalid pillar: ' ~ ssr.problems | join('; ')) | json }}
{%- else %}
{%- if ssr.node.pkg %}

ssr_recovery_node_pkg:
  pkg.installed:
    - name: {{ ssr.node.pkg | json }}
{%- endif %}

ssr_recovery_node_runtime:
  test.fail_without_changes:
    - name: {{ ('no Node.js >= 20 at ' ~ ssr.node.bin ~ ': set pillar ssr_recovery:node:pkg to a package that '
               ~ 'provides it, or ssr_recovery:node:bin to the path of a node >= 20 binary') | json }}
    - unless:
      - {{ (ssr.node.bin | quote ~ ' -e \'process.exitCode = +(Number(process.versions.node.split(".")[0]) < 20)\'') | json }}
{%- if ssr.node.pkg %}
    - require:
      - pkg: ssr_recovery_node_pkg
{%- endif %}
{%- endif %}
