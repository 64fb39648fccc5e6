#!/bin/sh
# Removing the package stops keyden ssh rather than leave it running from a
# deleted binary. The store, host key and user in /var/lib/keyden stay.
set -e
if [ "$1" = remove ] && [ -d /run/systemd/system ]; then
  systemctl disable --now keyden-ssh.service >/dev/null 2>&1 || true
fi
