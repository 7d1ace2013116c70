# Signed master keys on a router (reference/salt.md §5.2): installs the conductor's master_sign.pub
# (exported by `conductor-agent keys enable-signing` to /srv/salt/ssr_recovery/files) into the
# minion pki folder and turns on verify_master_pubkey_sign in a minion.d drop-in, then restarts the
# minion. Roll this out together with the master restart that turns master_sign_pubkey on: Salt
# fails authentication when only one side signs or verifies (check_auth_deps).
# A router whose minion pins master_finger (set by a router-agent re-authentication) would accept a
# signed new key and then exit 42 on the pin: `keys rotate` counts such routers as not ready, and
# `conductor-agent reauth` re-pins them after a rotation.
# Pillar keys read: ssr_recovery:router:minion_config_dir, minion_pki_dir.
{%- from 'ssr_recovery/map.jinja' import ssr with context %}

ssr_recovery_master_sign_pub:
  file.managed:
    - name: {{ ssr.router.minion_pki_dir }}/master_sign.pub
    - source: salt://ssr_recovery/files/master_sign.pub
    - mode: '0644'

ssr_recovery_verify_master_pubkey_sign:
  file.managed:
    - name: {{ ssr.router.minion_config_dir }}/minion.d/ssr-recovery-signing.conf
    - contents: |
        # Managed by Salt (ssr_recovery.router.signing): accept a new master key only when it is
        # signed by master_sign.pub (no manual key deletion after a planned rotation).
        verify_master_pubkey_sign: True
    - mode: '0644'
    - require:
      - file: ssr_recovery_master_sign_pub

ssr_recovery_minion_restart_for_signing:
  cmd.run:
    - name: 'salt-call service.restart salt-minion'
    - bg: True
    - onchanges:
      - file: ssr_recovery_verify_master_pubkey_sign
