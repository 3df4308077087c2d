"""AWS facts the schema and the constructs share: instance types, serverless sizes, retired features, log periods."""

from __future__ import annotations

import re

# Notebook instance types, from the CloudFormation resource schema of AWS::SageMaker::NotebookInstance
# as shipped with cfn-lint 1.58.
NOTEBOOK_INSTANCE_TYPES = frozenset(
    {
     "ml.c4.2xlarge", "ml.c4.4xlarge", "ml.c4.8xlarge", "ml.c4.xlarge", "ml.c5.18xlarge",
     "ml.c5.2xlarge", "ml.c5.4xlarge", "ml.c5.9xlarge", "ml.c5.xlarge", "ml.c5d.18xlarge",
     "ml.c5d.2xlarge", "ml.c5d.4xlarge", "ml.c5d.9xlarge", "ml.c5d.xlarge", "ml.c6i.12xlarge",
     "ml.c6i.16xlarge", "ml.c6i.24xlarge", "ml.c6i.2xlarge", "ml.c6i.32xlarge", "ml.c6i.4xlarge",
     "ml.c6i.8xlarge", "ml.c6i.large", "ml.c6i.xlarge", "ml.c6id.12xlarge", "ml.c6id.16xlarge",
     "ml.c6id.24xlarge", "ml.c6id.2xlarge", "ml.c6id.32xlarge", "ml.c6id.4xlarge", "ml.c6id.8xlarge",
     "ml.c6id.large", "ml.c6id.xlarge", "ml.c7i.12xlarge", "ml.c7i.16xlarge", "ml.c7i.24xlarge",
     "ml.c7i.2xlarge", "ml.c7i.48xlarge", "ml.c7i.4xlarge", "ml.c7i.8xlarge", "ml.c7i.large",
     "ml.c7i.xlarge", "ml.g4dn.12xlarge", "ml.g4dn.16xlarge", "ml.g4dn.2xlarge", "ml.g4dn.4xlarge",
     "ml.g4dn.8xlarge", "ml.g4dn.xlarge", "ml.g5.12xlarge", "ml.g5.16xlarge", "ml.g5.24xlarge",
     "ml.g5.2xlarge", "ml.g5.48xlarge", "ml.g5.4xlarge", "ml.g5.8xlarge", "ml.g5.xlarge",
     "ml.g6.12xlarge", "ml.g6.16xlarge", "ml.g6.24xlarge", "ml.g6.2xlarge", "ml.g6.48xlarge",
     "ml.g6.4xlarge", "ml.g6.8xlarge", "ml.g6.xlarge", "ml.g6e.12xlarge", "ml.g6e.16xlarge",
     "ml.g6e.24xlarge", "ml.g6e.2xlarge", "ml.g6e.48xlarge", "ml.g6e.4xlarge", "ml.g6e.8xlarge",
     "ml.g6e.xlarge", "ml.g7e.12xlarge", "ml.g7e.24xlarge", "ml.g7e.2xlarge", "ml.g7e.48xlarge",
     "ml.g7e.4xlarge", "ml.g7e.8xlarge", "ml.inf1.24xlarge", "ml.inf1.2xlarge", "ml.inf1.6xlarge",
     "ml.inf1.xlarge", "ml.inf2.24xlarge", "ml.inf2.48xlarge", "ml.inf2.8xlarge", "ml.inf2.xlarge",
     "ml.m4.10xlarge", "ml.m4.16xlarge", "ml.m4.2xlarge", "ml.m4.4xlarge", "ml.m4.xlarge",
     "ml.m5.12xlarge", "ml.m5.24xlarge", "ml.m5.2xlarge", "ml.m5.4xlarge", "ml.m5.xlarge",
     "ml.m5d.12xlarge", "ml.m5d.16xlarge", "ml.m5d.24xlarge", "ml.m5d.2xlarge", "ml.m5d.4xlarge",
     "ml.m5d.8xlarge", "ml.m5d.large", "ml.m5d.xlarge", "ml.m6i.12xlarge", "ml.m6i.16xlarge",
     "ml.m6i.24xlarge", "ml.m6i.2xlarge", "ml.m6i.32xlarge", "ml.m6i.4xlarge", "ml.m6i.8xlarge",
     "ml.m6i.large", "ml.m6i.xlarge", "ml.m6id.12xlarge", "ml.m6id.16xlarge", "ml.m6id.24xlarge",
     "ml.m6id.2xlarge", "ml.m6id.32xlarge", "ml.m6id.4xlarge", "ml.m6id.8xlarge", "ml.m6id.large",
     "ml.m6id.xlarge", "ml.m7i.12xlarge", "ml.m7i.16xlarge", "ml.m7i.24xlarge", "ml.m7i.2xlarge",
     "ml.m7i.48xlarge", "ml.m7i.4xlarge", "ml.m7i.8xlarge", "ml.m7i.large", "ml.m7i.xlarge",
     "ml.p2.16xlarge", "ml.p2.8xlarge", "ml.p2.xlarge", "ml.p3.16xlarge", "ml.p3.2xlarge",
     "ml.p3.8xlarge", "ml.p3dn.24xlarge", "ml.p4d.24xlarge", "ml.p4de.24xlarge", "ml.p5.48xlarge",
     "ml.p5.4xlarge", "ml.p5en.48xlarge", "ml.p6-b200.48xlarge", "ml.r5.12xlarge", "ml.r5.16xlarge",
     "ml.r5.24xlarge", "ml.r5.2xlarge", "ml.r5.4xlarge", "ml.r5.8xlarge", "ml.r5.large",
     "ml.r5.xlarge", "ml.r6i.12xlarge", "ml.r6i.16xlarge", "ml.r6i.24xlarge", "ml.r6i.2xlarge",
     "ml.r6i.32xlarge", "ml.r6i.4xlarge", "ml.r6i.8xlarge", "ml.r6i.large", "ml.r6i.xlarge",
     "ml.r6id.12xlarge", "ml.r6id.16xlarge", "ml.r6id.24xlarge", "ml.r6id.2xlarge",
     "ml.r6id.32xlarge", "ml.r6id.4xlarge", "ml.r6id.8xlarge", "ml.r6id.large", "ml.r6id.xlarge",
     "ml.r7i.12xlarge", "ml.r7i.16xlarge", "ml.r7i.24xlarge", "ml.r7i.2xlarge", "ml.r7i.48xlarge",
     "ml.r7i.4xlarge", "ml.r7i.8xlarge", "ml.r7i.large", "ml.r7i.xlarge", "ml.t2.2xlarge",
     "ml.t2.large", "ml.t2.medium", "ml.t2.xlarge", "ml.t3.2xlarge", "ml.t3.large", "ml.t3.medium",
     "ml.t3.xlarge", "ml.trn1.2xlarge", "ml.trn1.32xlarge", "ml.trn1n.32xlarge",
    }
)  # fmt: skip


# Hosting instance types: SageMaker offers more than a hundred and adds families often, so the
# shape is checked here and cfn-lint checks the exact type against CloudFormation's own list.
HOSTING_INSTANCE_TYPE = re.compile(r"^ml\.[a-z][a-z0-9-]*\.(medium|large|\d*xlarge)$")
# Families whose instances bring local NVMe storage: SageMaker refuses a KMS key for their volumes
# (the instance store is encrypted by the hardware).
NVME_FAMILIES = frozenset(
    {"g4dn", "g5", "g6", "g6e", "p3dn", "p4d", "p4de", "p5", "p5e", "p5en", "trn1", "trn1n", "trn2"}
)


def _family(instance_type: str) -> str:
    return instance_type.split(".")[1] if instance_type.count(".") == 2 else ""


def has_local_nvme(instance_type: str) -> bool:
    """True for ml.m5d, ml.c6id, ml.g5 ... : volume encryption with a customer key is refused."""
    family = _family(instance_type)
    return family in NVME_FAMILIES or re.fullmatch(r"[cmrx]\d+[a-z]*d", family) is not None


def is_burstable(instance_type: str) -> bool:
    """ml.t2 / ml.t3 ...: CPU credits run out under load, and SageMaker cannot autoscale them."""
    return re.fullmatch(r"t\d+[a-z]*", _family(instance_type)) is not None


def is_inf1(instance_type: str) -> bool:
    return _family(instance_type) == "inf1"


def vcpus(instance_type: str) -> int:
    """vCPUs of a hosting instance by its size (large = 2, xlarge = 4, Nxlarge = 4N): SageMaker
    reports CPUUtilization as the sum over cores (up to 100 x vCPUs)."""
    size = instance_type.rsplit(".", 1)[-1]
    if size in ("medium", "large"):
        return 2
    return 4 * int(size.removesuffix("xlarge") or 1)


# SageMaker refuses endpoint names longer than this.
ENDPOINT_NAME_MAX_LENGTH = 63

# SageMaker Serverless Inference's memory sizes (MB).
SERVERLESS_MEMORY_MB = (1024, 2048, 3072, 4096, 5120, 6144)

# Notebook platforms SageMaker no longer supports, with what to use instead.
RETIRED_NOTEBOOK_PLATFORMS = {
    "notebook-al1-v1": "Amazon Linux 1 notebooks reached end of support; use notebook-al2023-v1",
    "notebook-al2-v1": "notebook-al2-v1 (JupyterLab 1) reached end of support; use notebook-al2023-v1",
}

# Keys of Elastic Inference, which reached end of life: refused wherever a stage file uses them.
RETIRED_KEYS = {
    key: "Elastic Inference accelerators reached end of life in April 2024 and can no longer be "
    "attached; use a GPU (ml.g5, ml.g6) or AWS Inferentia (ml.inf2) instance type instead"
    for key in ("accelerator_type", "accelerator_types", "elastic_inference")
}

# CloudWatch Logs accepts only these retention periods (days).
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096,
    1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip
