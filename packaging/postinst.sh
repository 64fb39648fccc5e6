#!/bin/sh
# keyden-ssh.service runs as the system user keyden, with its store and host
# key in /var/lib/keyden (systemd's StateDirectory makes it). The package
# makes the user and leaves the service off: it needs members with SSH keys
# first (see the README, "keyden ssh").
set -e
if [ "$1" = configure ] && ! getent passwd keyden >/dev/null; then
  useradd --system --user-group --home-dir /var/lib/keyden --no-create-home --shell /usr/sbin/nologin keyden
fi
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload >/dev/null 2>&1 || true
fi
