"""Alarms and a dashboard for one endpoint; alarms notify an encrypted SNS topic.

Each alarm spans all production variants (a math expression over their metrics), so that a
deployment's rollback can name a fixed pair of alarms however many variants there are. The
shadow variant is left out: its failures must not roll production back."""

from __future__ import annotations

import re
from collections.abc import Sequence

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions

from config.deployment import AlarmsConfig
from config.endpoints import VariantConfig
from config.monitoring import QUALITY_METRICS, MonitoringConfig
from constructs import Construct
from naming import kebab
from sagemaker_facts import vcpus

INVOCATION_METRICS = "AWS/SageMaker"
INSTANCE_METRICS = "/aws/sagemaker/Endpoints"
MINUTE = Duration.minutes(1)


class EndpointMonitoring(Construct):
    """Six alarms of one endpoint (5XX errors and p99 latency, which also roll deployments back; 4XX
    rate; CPU, memory and disk), each over all production variants, notifying an SNS topic
    encrypted with the platform key that accepts publishes from these alarms only (and over TLS);
    and a dashboard named after the endpoint.

    Props:
        endpoint_name: the endpoint's physical name (alarm names `<endpoint>-<signal>` derive from it).
        variants: the production variants (serverless ones report no instance metrics).
        thresholds: the endpoint's `alarms` entry (thresholds, evaluation minutes, e-mails).
        key: the KMS key that encrypts the topic.
        drift: the endpoint's `monitoring` entry: with the platform's drift check, an alarm on its
            violations and one per model-quality threshold, and the dashboard's drift graphs.
        drift_namespace: the CloudWatch namespace of the drift checks' metrics.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        endpoint_name: str,
        variants: Sequence[VariantConfig],
        thresholds: AlarmsConfig,
        key: kms.IKey,
        drift: MonitoringConfig | None = None,
        drift_namespace: str = "",
    ) -> None:
        super().__init__(scope, id)
        self._endpoint_name = endpoint_name
        self._variants = variants
        self.topic = sns.Topic(
            self, "AlarmTopic", display_name=f"Alarms of endpoint {endpoint_name}", master_key=key, enforce_ssl=True
        )
        for address in thresholds.notify_emails:
            self.topic.add_subscription(subscriptions.EmailSubscription(address))

        errors_5xx = self._across("SUM", INVOCATION_METRICS, "Invocation5XXErrors", "Sum", "5XX errors")
        invocations = self._across("SUM", INVOCATION_METRICS, "Invocations", "Sum", "Invocations")
        errors_4xx = self._across("SUM", INVOCATION_METRICS, "Invocation4XXErrors", "Sum", "4XX errors")
        rate_4xx = cloudwatch.MathExpression(
            expression="IF(inv > 0, 100 * e4 / inv, 0)",
            using_metrics={"inv": invocations, "e4": errors_4xx},
            label="4XX errors (% of invocations)",
            period=MINUTE,
        )
        # ModelLatency is reported in microseconds.
        latency = self._across("MAX", INVOCATION_METRICS, "ModelLatency", "p99", "Model latency p99 (us)")
        minutes = thresholds.evaluation_minutes
        self.errors_alarm = self._alarm(
            "Errors5xx", errors_5xx, thresholds.errors_5xx, minutes, f"5XX errors per minute >= {thresholds.errors_5xx}"
        )
        self.latency_alarm = self._alarm(
            "LatencyP99",
            latency,
            thresholds.latency_p99_ms * 1000,
            minutes,
            f"p99 model latency >= {thresholds.latency_p99_ms} ms",
        )
        # What a deployment watches: the endpoint refers to them by name and depends on them.
        self.rollback_alarms = [self.errors_alarm, self.latency_alarm]
        self.rollback_alarm_names = [self.alarm_name(a.node.id) for a in self.rollback_alarms]
        self.alarms = [
            *self.rollback_alarms,
            self._alarm(
                "Errors4xxRate",
                rate_4xx,
                thresholds.errors_4xx_percent,
                minutes,
                f"4XX errors >= {thresholds.errors_4xx_percent}% of invocations",
            ),
        ]
        usage: list[cloudwatch.IMetric] = []
        if any(v.instance_type for v in variants):
            cpu = self._across("MAX", INSTANCE_METRICS, "CPUUtilization", "Average", "CPU %", per_core=True)
            memory = self._across("MAX", INSTANCE_METRICS, "MemoryUtilization", "Average", "Memory %")
            disk = self._across("MAX", INSTANCE_METRICS, "DiskUtilization", "Average", "Disk %")
            usage = [cpu, memory, disk]
            self.alarms += [
                self._alarm(id, metric, threshold, minutes, f"{label} >= {threshold}%")
                for id, metric, threshold, label in (
                    ("Cpu", cpu, thresholds.cpu_percent, "CPU (of all cores)"),
                    ("Memory", memory, thresholds.memory_percent, "memory"),
                    ("Disk", disk, thresholds.disk_percent, "disk"),
                )
            ]
        drift_graphs = self._drift_alarms(drift, drift_namespace) if drift and not drift.model_monitor else []
        for alarm in self.alarms:
            alarm.add_alarm_action(actions.SnsAction(self.topic))
            alarm.add_ok_action(actions.SnsAction(self.topic))
        # A topic policy replaces SNS's default one (which lets the account's principals publish),
        # and the topic's holds CDK's TLS-only Deny: CloudWatch may publish only if it is allowed
        # here, for these alarms of this account.
        stack = Stack.of(self)
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowThisEndpointsAlarms",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {
                        "aws:SourceArn": [
                            stack.format_arn(
                                service="cloudwatch",
                                resource="alarm",
                                resource_name=self.alarm_name(alarm.node.id),
                                arn_format=ArnFormat.COLON_RESOURCE_NAME,
                            )
                            for alarm in self.alarms
                        ]
                    },
                },
            )
        )

        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=endpoint_name)
        self.dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(
                title="Alarms",
                alarms=[
                    cloudwatch.Alarm.from_alarm_name(self, f"{a.node.id}Status", self.alarm_name(a.node.id))
                    for a in self.alarms
                ],
                width=24,
                height=3,
            ),
            cloudwatch.GraphWidget(title="Traffic", left=[invocations], right=[errors_5xx, errors_4xx], width=8),
            cloudwatch.GraphWidget(title="Latency", left=[latency], width=8),
            cloudwatch.GraphWidget(title="Utilization", left=usage, width=8),
        )
        if drift_graphs:
            self.dashboard.add_widgets(*drift_graphs)

    def _drift_alarms(self, drift: MonitoringConfig, namespace: str) -> list[cloudwatch.IWidget]:
        """Alarms on the drift check's metrics (one data point a check) and the dashboard's graphs of them."""
        period = Duration.hours(min(drift.window, 24))  # alarms look at most a day back

        def metric(name: str, label: str, statistic: str = "Maximum", **dimensions: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace=namespace,
                metric_name=name,
                dimensions_map={"Endpoint": self._endpoint_name, **dimensions},
                statistic=statistic,
                period=period,
                label=label,
            )

        violations = metric("Violations", "Constraint violations")
        self.alarms.append(
            self._alarm(
                "DataQualityViolations",
                violations,
                1,
                1,
                "the drift check found constraint violations in the captured traffic",
            )
        )
        # A check that failed, was stopped or never started reports nothing, and missing data does not
        # alarm: so alarm when the endpoint had traffic two windows running and no check reported.
        traffic = {
            f"invocations{n}": cloudwatch.Metric(
                namespace=INVOCATION_METRICS,
                metric_name="Invocations",
                dimensions_map={"EndpointName": self._endpoint_name, "VariantName": variant.name},
                statistic="Sum",
                period=period,
            )
            for n, variant in enumerate(self._variants)
        }
        served = " + ".join(f"FILL({id}, 0)" for id in traffic)
        unchecked = cloudwatch.MathExpression(
            expression=f"IF(({served}) > 0 AND FILL(records, 0) == 0, 1, 0)",
            using_metrics={**traffic, "records": metric("Records", "Requests checked", "Sum")},
            label="Traffic without a drift check",
            period=period,
        )
        self.alarms.append(
            self._alarm(
                "DriftCheckMissing",
                unchecked,
                1,
                2,
                "traffic for two windows running and no drift check reported (failed, stopped or not started)",
            )
        )
        quality = []
        if drift.model_quality is not None:
            directions = QUALITY_METRICS[drift.model_quality.problem_type]
            for name, threshold in drift.model_quality.thresholds.items():
                floor = directions[name] == "floor"
                # The worst value of the period: the lowest score, the highest error.
                series = metric("ModelQuality", name, "Minimum" if floor else "Maximum", Metric=name)
                quality.append(series)
                self.alarms.append(
                    self._alarm(
                        f"Quality{name.title().replace('_', '')}",
                        series,
                        threshold,
                        1,
                        f"{name} on delivered ground truth {'<' if floor else '>='} {threshold}",
                        below=floor,
                    )
                )
        features = cloudwatch.MathExpression(
            expression=f'SEARCH(\'{{{namespace},Endpoint,Feature}} MetricName="FeatureDrift" '
            f"Endpoint=\"{self._endpoint_name}\"', 'Maximum', {int(period.to_seconds())})",
            label="",
            period=period,
        )
        graphs: list[cloudwatch.IWidget] = [
            cloudwatch.GraphWidget(
                title="Drift", left=[metric("MaxDrift", "Largest feature drift")], right=[violations], width=8
            ),
            cloudwatch.GraphWidget(title="Drift by feature", left=[features], width=8),
        ]
        if quality:
            graphs.append(cloudwatch.GraphWidget(title="Model quality", left=quality, width=8))
        return graphs

    def alarm_name(self, alarm_id: str) -> str:
        """`<endpoint>-errors5xx`, `<endpoint>-latency-p99`, ... (Errors5xx, LatencyP99, ...)."""
        return f"{self._endpoint_name}-{kebab(alarm_id)}"

    def _across(
        self, function: str, namespace: str, metric: str, statistic: str, label: str, *, per_core: bool = False
    ) -> cloudwatch.MathExpression:
        """One value per minute over all production variants: `function` of each variant's metric."""
        metrics: dict[str, cloudwatch.IMetric] = {}
        terms = []
        stem = re.sub("[^a-z0-9]", "", metric.lower())  # IDs must be unique across nested expressions
        for number, variant in enumerate(self._variants):
            if namespace == INSTANCE_METRICS and not variant.instance_type:
                continue  # serverless variants report no instance metrics
            metrics[f"{stem}{number}"] = cloudwatch.Metric(
                namespace=namespace,
                metric_name=metric,
                dimensions_map={"EndpointName": self._endpoint_name, "VariantName": variant.name},
                statistic=statistic,
                period=MINUTE,
            )
            # CPUUtilization adds up cores (400% on 4 vCPUs): divide to get % of the instance.
            cores = vcpus(variant.instance_type) if per_core and variant.instance_type else 1
            terms.append(f"{stem}{number} / {cores}" if cores > 1 else f"{stem}{number}")
        return cloudwatch.MathExpression(
            expression=f"{function}([{', '.join(terms)}])", using_metrics=metrics, label=label, period=MINUTE
        )

    def _alarm(
        self,
        id: str,
        metric: cloudwatch.IMetric,
        threshold: float,
        periods: int,
        description: str,
        *,
        below: bool = False,
    ) -> cloudwatch.Alarm:
        return cloudwatch.Alarm(
            self,
            id,
            # Named, so that the endpoint's rollback configuration and the dashboard refer to a
            # plain string rather than to the alarm resource.
            alarm_name=self.alarm_name(id),
            metric=metric,
            threshold=threshold,
            evaluation_periods=periods,
            datapoints_to_alarm=periods,
            comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD
            if below
            else cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=f"Endpoint {self._endpoint_name}: {description}",
        )
