#!/bin/bash
# Runs as root at every start of the notebook instance. SageMaker fails a start whose script runs
# longer than five minutes, so the foreground part only writes files and starts a timer (seconds);
# anything slow (package installs) runs in the background with a log and a completion marker.
# Running it twice changes nothing the second time.
#
# The notebook user has no root (RootAccess: Disabled), so nothing root runs may be writable by
# them: root writes only into root-owned folders outside /home/ec2-user, runs nothing from there,
# and starts the user's own Python (auto-stop, pip) only as the user.
set -euo pipefail
# @settings

umask 022                             # what root writes here: readable by all, writable by root only
# SageMaker documents the scripts' PATH as /sbin:bin:/usr/sbin:/usr/bin, with a relative `bin`:
# resolve commands in system folders only, never in one the user can write.
PATH=/usr/sbin:/usr/bin:/sbin:/bin
ROOT="${SMPLAT_ROOT:-}"               # a sandbox root for tests; empty on the instance
LIB_DIR="$ROOT/usr/local/lib/smplat"  # the auto-stop checker
STATE_DIR="$ROOT/var/lib/smplat"      # requirements file, install lock and marker
LOG_DIR="$ROOT/var/log/smplat"
UNIT_DIR="$ROOT/etc/systemd/system"
NOTEBOOK_USER=ec2-user
NOTEBOOK_PYTHON="${SMPLAT_PYTHON:-/home/ec2-user/anaconda3/envs/JupyterSystemEnv/bin/python}"
KERNEL_PYTHON="${SMPLAT_KERNEL_PYTHON:-/home/ec2-user/anaconda3/envs/python3/bin/python}"
SYSTEMCTL="${SMPLAT_SYSTEMCTL:-systemctl}"
RUNUSER="${SMPLAT_RUNUSER:-runuser}"
mkdir -p "$LIB_DIR" "$STATE_DIR" "$LOG_DIR" "$UNIT_DIR"

# 1. Auto-stop: the checker (shipped inside this script: the instance has no internet) and a
#    systemd timer that runs it every five minutes. The unit runs it as the notebook user with the
#    notebook's Python (which has boto3): that Python lives in the user's home, so the user can
#    change what it does, but only with the rights they already have (their own files, the
#    instance role they use from every notebook); NoNewPrivileges stops setuid programs from giving
#    it more. -I: the interpreter ignores PYTHON* variables and the user's site-packages. Nothing on
#    disk is writable for it: systemd, as root, opens the log for it (StandardOutput=append:).
# @embed autostop.py
cat >"$UNIT_DIR/smplat-autostop.service" <<UNIT
[Unit]
Description=Stop this notebook instance when Jupyter is idle

[Service]
Type=oneshot
User=$NOTEBOOK_USER
Environment=IDLE_TIMEOUT_MINUTES=$IDLE_TIMEOUT_MINUTES IDLE_IGNORES_OPEN_BROWSERS=$IDLE_IGNORES_OPEN_BROWSERS
ExecStart=$NOTEBOOK_PYTHON -I /usr/local/lib/smplat/autostop.py
StandardOutput=append:/var/log/smplat/autostop.log
StandardError=inherit
UMask=0022
NoNewPrivileges=yes
CapabilityBoundingSet=
ProtectSystem=strict
ProtectHome=read-only
PrivateTmp=yes
PrivateDevices=yes
PrivateMounts=yes
ProtectProc=invisible
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
# Not RemoveIPC=: it would delete the user's shared memory (kernels') whenever a check ends.
# It reaches Jupyter on localhost, the instance metadata (credentials) and SageMaker's API over
# IP; glibc's resolver also uses netlink and Unix sockets.
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK
SystemCallArchitectures=native
# A deny-list: systemd before 231 (Amazon Linux 2 has 219) skips group names it does not know,
# which turns an allow-list of groups into "allow nothing" but leaves a deny-list harmless.
SystemCallFilter=~@clock @cpu-emulation @debug @module @mount @obsolete @privileged @raw-io @reboot @resources @swap
SystemCallErrorNumber=EPERM
UNIT
cat >"$UNIT_DIR/smplat-autostop.timer" <<UNIT
[Unit]
Description=Check every five minutes whether this notebook instance is idle

[Timer]
OnBootSec=10min
OnUnitActiveSec=5min

[Install]
WantedBy=timers.target
UNIT
$SYSTEMCTL daemon-reload
$SYSTEMCTL enable --now smplat-autostop.timer

# 2. Extra packages: in the background, once per package list, one install at a time. The specs
#    reach pip as data (a requirements file, one per line), never as shell text, and pip runs as
#    the notebook user in their own environment; root only holds the lock and writes the marker.
install_packages() {
  exec 9>"$STATE_DIR/packages.lock"
  flock --nonblock 9 || return 0 # an install from an earlier run is still going
  echo "$(date -Is) installing: $(paste -sd ' ' "$STATE_DIR/requirements.txt")"
  local status=0
  # 9>&-: the user's pip does not inherit root's lock; cd /: nor root's working directory.
  (cd / && "$RUNUSER" -u "$NOTEBOOK_USER" -- "$KERNEL_PYTHON" -m pip install --quiet \
    -r "$STATE_DIR/requirements.txt" 9>&-) || status=$?
  if [ "$status" = 0 ]; then
    echo "$1" >"$STATE_DIR/packages.done"
    echo "$(date -Is) installed"
  else
    echo "$(date -Is) install failed (exit $status)"
  fi
}
if [ -n "$PIP_REQUIREMENTS" ]; then
  printf '%s\n' "$PIP_REQUIREMENTS" >"$STATE_DIR/requirements.txt"
  WANT="$(md5sum <"$STATE_DIR/requirements.txt" | cut -c1-16)"
  if [ "$(cat "$STATE_DIR/packages.done" 2>/dev/null || true)" != "$WANT" ]; then
    # Like nohup: the install outlives this script, and holds none of its output open.
    (trap '' HUP && install_packages "$WANT") </dev/null >>"$LOG_DIR/packages.log" 2>&1 &
  fi
fi
echo "on-start: foreground done in ${SECONDS}s; logs in $LOG_DIR"
