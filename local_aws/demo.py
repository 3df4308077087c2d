"""`make demo`: deploy the dev stage to a local AWS (moto on loopback) and show what it publishes."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from config import load_stage
from local_aws.deploy import bootstrap, deploy, ssm_parameters, stack_outputs
from local_aws.moto_server import moto_server

STAGE = "dev"


def main() -> int:
    config = load_stage(STAGE)
    started = time.monotonic()
    log = Path(tempfile.gettempdir()) / "smplat-demo-moto.log"
    with moto_server(log_file=log) as aws:
        print(f"Local AWS (moto) on {aws.endpoint}; its log: {log}")
        bootstrap(aws)
        print("Bootstrapped (CDKToolkit). Deploying every stack of the dev stage with the CDK CLI ...")
        deploy(aws, STAGE)
        for role in ("data", "network"):
            name = f"{config.project}-{STAGE}-{role}"
            print(f"\nOutputs of {name}:")
            for key, value in sorted(stack_outputs(aws, name).items()):
                if not key.startswith("PublishOutput"):  # CDK's own cross-stack exports
                    print(f"  {key:<26} {value}")
        prefix = f"/{config.project}/{STAGE}"
        print(f"\nSSM parameters under {prefix}/ (read back with boto3):")
        for name, value in sorted(ssm_parameters(aws, prefix).items()):
            print(f"  {name:<44} {value}")
    print(f"\nDone in {time.monotonic() - started:.0f} s; the local AWS is stopped.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
