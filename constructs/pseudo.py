"""CloudFormation's pseudo parameters as CDK tokens, read once: each read of `aws_cdk.Aws.REGION` (and
the others) is a round trip to the jsii kernel, and the app builds hundreds of ARNs from them."""

from __future__ import annotations

from aws_cdk import Aws

ACCOUNT_ID: str = Aws.ACCOUNT_ID
PARTITION: str = Aws.PARTITION
REGION: str = Aws.REGION
URL_SUFFIX: str = Aws.URL_SUFFIX
