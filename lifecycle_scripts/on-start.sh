#!/bin/bash
# Runs as root at every start of the notebook instance. SageMaker fails a start whose script runs
# longer than five minutes, so the foreground part only writes files and starts a timer (seconds);
# anything slow (package installs) runs in the background with a log and a completion marker.
# Running it twice changes nothing the second time.
set -euo pipefail
# @settings

ROOT="${SMPLAT_ROOT:-}" # a sandbox root for tests; empty on the instance
STATE_DIR="$ROOT/home/ec2-user/.smplat"
LOG_DIR="$ROOT/var/log/smplat"
UNIT_DIR="$ROOT/etc/systemd/system"
NOTEBOOK_PYTHON="${SMPLAT_PYTHON:-/home/ec2-user/anaconda3/envs/JupyterSystemEnv/bin/python}"
SYSTEMCTL="${SMPLAT_SYSTEMCTL:-systemctl}"
PIP="${SMPLAT_PIP:-sudo -u ec2-user /home/ec2-user/anaconda3/envs/python3/bin/python -m pip}"
mkdir -p "$STATE_DIR" "$LOG_DIR" "$UNIT_DIR"

# 1. Auto-stop: the checker (shipped inside this script: the instance has no internet) and a
#    systemd timer that runs it every five minutes with the notebook's Python, which has boto3.
# @embed autostop.py
cat >"$UNIT_DIR/smplat-autostop.service" <<UNIT
[Unit]
Description=Stop this notebook instance when Jupyter is idle

[Service]
Type=oneshot
Environment=IDLE_TIMEOUT_MINUTES=$IDLE_TIMEOUT_MINUTES
Environment=IDLE_IGNORES_OPEN_BROWSERS=$IDLE_IGNORES_OPEN_BROWSERS
ExecStart=$NOTEBOOK_PYTHON $STATE_DIR/autostop.py --log $LOG_DIR/autostop.log
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

# 2. Extra packages: in the background, once per package list, one install at a time.
if [ -n "$PIP_PACKAGES" ]; then
  WANT="$(echo "$PIP_PACKAGES" | md5sum | cut -c1-16)"
  if [ "$(cat "$STATE_DIR/packages.done" 2>/dev/null || true)" != "$WANT" ]; then
    nohup flock --nonblock "$STATE_DIR/packages.lock" bash -c "
      echo \"\$(date -Is) installing: $PIP_PACKAGES\"
      if $PIP install --quiet $PIP_PACKAGES; then
        echo '$WANT' >'$STATE_DIR/packages.done'; echo \"\$(date -Is) installed\"
      else
        echo \"\$(date -Is) install failed (exit \$?)\"
      fi" >>"$LOG_DIR/packages.log" 2>&1 &
  fi
fi
echo "on-start: foreground done in ${SECONDS}s; logs in $LOG_DIR"
