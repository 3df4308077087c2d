"""Stops this notebook instance when Jupyter has been idle for the configured time.

Idle: no kernel busy, no kernel or terminal active within the timeout, and (unless
IDLE_IGNORES_OPEN_BROWSERS) no kernel with an open connection; with no kernels or terminals at
all, the server's own last activity counts. Installed by on-start.sh (root-owned, in
/usr/local/lib/smplat) and run by a systemd timer as the notebook user, with the notebook's Python
(which has boto3; stdlib otherwise); systemd appends its output to /var/log/smplat/autostop.log.
"""

import argparse
import datetime as dt
import json
import os
import ssl
import sys
import urllib.request

METADATA = "/opt/ml/metadata/resource-metadata.json"


def get(url, token):
    # no_track_activity: reading the state must not count as activity (jupyter_server >= 2).
    request = urllib.request.Request(
        f"{url}?no_track_activity=1", headers={"Authorization": f"token {token}"} if token else {}
    )
    # Jupyter on a notebook instance serves localhost with a self-signed certificate.
    context = ssl._create_unverified_context() if url.startswith("https://localhost") else None
    with urllib.request.urlopen(request, timeout=10, context=context) as response:
        return json.load(response)


def parse_time(text):
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def idle_verdict(base, token, timeout, ignore_connections, now):
    """(idle, reason) from the Jupyter server's kernels, terminals and status."""
    kernels = get(f"{base}/api/kernels", token)
    terminals = get(f"{base}/api/terminals", token)
    sessions = get(f"{base}/api/sessions", token)
    busy = [k["id"] for k in kernels if k.get("execution_state") == "busy"]
    if busy:
        return False, f"kernel {busy[0]} is busy"
    connected = [k["id"] for k in kernels if k.get("connections", 0) > 0]
    if connected and not ignore_connections:
        return False, f"kernel {connected[0]} has an open connection"
    times = [(parse_time(k["last_activity"]), f"kernel {k['id']}") for k in kernels if k.get("last_activity")]
    times += [(parse_time(t["last_activity"]), f"terminal {t['name']}") for t in terminals if t.get("last_activity")]
    if not times:  # nothing open at all: the server's own last activity
        times = [(parse_time(get(f"{base}/api/status", token)["last_activity"]), "the server")]
    last, source = max(times)
    quiet = now - last
    if quiet < dt.timedelta(minutes=timeout):
        return False, f"last activity {int(quiet.total_seconds())} s ago in {source} ({len(sessions)} sessions)"
    return True, f"idle for {int(quiet.total_seconds())} s (timeout {timeout} min, {len(sessions)} sessions)"


def stop_notebook(metadata_path):
    import boto3

    metadata = json.load(open(metadata_path))
    name = metadata["ResourceName"]
    region = metadata["ResourceArn"].split(":")[3]
    boto3.client("sagemaker", region_name=region).stop_notebook_instance(NotebookInstanceName=name)
    return name


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jupyter-url", default=os.environ.get("JUPYTER_URL", "https://localhost:8443"))
    parser.add_argument("--token", default=os.environ.get("JUPYTER_TOKEN", ""))
    parser.add_argument("--timeout-minutes", type=float, default=float(os.environ.get("IDLE_TIMEOUT_MINUTES", "60")))
    parser.add_argument(
        "--ignore-connections",
        action="store_true",
        default=os.environ.get("IDLE_IGNORES_OPEN_BROWSERS", "false") == "true",
    )
    parser.add_argument("--metadata", default=os.environ.get("NOTEBOOK_METADATA", METADATA))
    parser.add_argument("--log", default=None)
    args = parser.parse_args(argv)
    now = dt.datetime.now(dt.UTC)
    try:
        idle, reason = idle_verdict(
            args.jupyter_url.rstrip("/"), args.token, args.timeout_minutes, args.ignore_connections, now
        )
        message = f"stopping {stop_notebook(args.metadata)}: {reason}" if idle else f"in use: {reason}"
        code = 0
    except Exception as err:  # never stop a notebook on an error; say why in the log
        message, code = f"check failed, not stopping: {type(err).__name__}: {err}", 1
    line = f"{now.isoformat(timespec='seconds')} {message}\n"
    if args.log:
        with open(args.log, "a") as log:
            log.write(line)
    sys.stdout.write(line)
    return code


if __name__ == "__main__":
    sys.exit(main())
