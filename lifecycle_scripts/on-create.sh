#!/bin/bash
# Runs as root once, when the notebook instance is created (before on-start). Keep it short: the
# same five-minute limit applies. It leaves a note for the user about the platform's data.
set -euo pipefail
# @settings

PATH=/usr/sbin:/usr/bin:/sbin:/bin # system folders only (see on-start.sh)
ROOT="${SMPLAT_ROOT:-}"
WORK="$ROOT/home/ec2-user/SageMaker"
mkdir -p "$WORK"
if [ ! -e "$WORK/PLATFORM.md" ]; then
  cat >"$WORK/PLATFORM.md" <<NOTE
# $PLATFORM_PREFIX notebook

- Data channels and buckets: \`aws ssm get-parameters-by-path --path $SSM_PREFIX/\`
- This instance stops itself after $IDLE_TIMEOUT_MINUTES minutes without activity
  (log: /var/log/smplat/autostop.log).
- No internet: AWS APIs are reached through the VPC's endpoints.
NOTE
  chown 1000:1000 "$WORK/PLATFORM.md" 2>/dev/null || true # ec2-user, where it exists
fi
